"""National identity numbers: fødselsnummer and D-number, the 2032 check-digit rule, synthetic
test numbers only when allowed, and never a digit in a message or repr."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.no import fodselsnummer

from services.referral.domain.errors import IdentityNumberProblem, InvalidIdentityNumber
from services.referral.domain.identity import (
    IdentityNumberKind,
    SyntheticSource,
    parse_identity_number,
)

FODSELSNUMMER = "15108695088"  # python-stdnum's own example
D_NUMBER = "55108695071"  # the day plus 40
# A first check digit for remainder 1: valid for numbers issued from 2032, unknown to stdnum.
FROM_2032 = "15108695096"
NAV_SYNTHETIC = "15450850060"  # month + 40: schemas.examples' synthetic number
NAV_SYNTHETIC_D_NUMBER = "55450850054"
TENOR_SYNTHETIC = "15880850013"  # month + 80
TENOR_SYNTHETIC_D_NUMBER = "55880850007"
FH_NUMBER = "85108695094"  # first digit 8: a health-sector help number
LEAP_DAY_2000 = "29020050088"
LEAP_DAY_OF_A_YEAR_01 = "29020150260"
NO_SUCH_DAY = "30028695086"  # 30 February
NO_SUCH_MONTH = "32138695092"  # the 32nd of the 13th month


def _problem(raw: str, *, allow_synthetic: bool = False) -> IdentityNumberProblem:
    with pytest.raises(InvalidIdentityNumber) as refused:
        parse_identity_number(raw, allow_synthetic=allow_synthetic)
    return refused.value.problem


@pytest.mark.parametrize("allow_synthetic", [False, True])
def test_a_valid_fodselsnummer_is_accepted(allow_synthetic: bool) -> None:
    number = parse_identity_number(FODSELSNUMMER, allow_synthetic=allow_synthetic)

    assert number.digits == FODSELSNUMMER
    assert number.kind is IdentityNumberKind.FODSELSNUMMER
    assert number.synthetic is None


def test_spaces_and_a_hyphen_are_ignored() -> None:
    assert parse_identity_number(" 151086 95088", allow_synthetic=False).digits == FODSELSNUMMER
    assert parse_identity_number("151086-95088", allow_synthetic=False).digits == FODSELSNUMMER


def test_a_d_number_is_accepted_as_one() -> None:
    number = parse_identity_number(D_NUMBER, allow_synthetic=False)

    assert number.kind is IdentityNumberKind.D_NUMBER
    assert number.synthetic is None


def test_a_first_check_digit_of_the_2032_rule_is_accepted() -> None:
    assert not fodselsnummer.is_valid(FROM_2032)
    assert parse_identity_number(FROM_2032, allow_synthetic=False).digits == FROM_2032


@pytest.mark.parametrize("wrong", ["15108695077", "15108695089", "15108695097"])
def test_a_wrong_check_digit_is_refused(wrong: str) -> None:
    assert _problem(wrong) is IdentityNumberProblem.WRONG_CHECK_DIGIT


@given(position=st.integers(0, 10), change=st.integers(1, 9))
def test_changing_any_one_digit_of_a_valid_number_is_caught(position: int, change: int) -> None:
    digits = list(FODSELSNUMMER)
    digits[position] = str((int(digits[position]) + change) % 10)
    changed = "".join(digits)

    with pytest.raises(InvalidIdentityNumber):
        parse_identity_number(changed, allow_synthetic=True)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("1510869508", IdentityNumberProblem.WRONG_LENGTH),
        ("151086950880", IdentityNumberProblem.WRONG_LENGTH),
        ("", IdentityNumberProblem.WRONG_LENGTH),
        ("1510869508x", IdentityNumberProblem.NOT_DIGITS),
        ("١٥١٠٨٦٩٥٠٨٨", IdentityNumberProblem.NOT_DIGITS),  # Arabic-Indic digits
        (NO_SUCH_DAY, IdentityNumberProblem.NOT_A_DATE),
        (NO_SUCH_MONTH, IdentityNumberProblem.NOT_A_DATE),
        (LEAP_DAY_OF_A_YEAR_01, IdentityNumberProblem.NOT_A_DATE),
        (FH_NUMBER, IdentityNumberProblem.NOT_A_NATIONAL_IDENTITY_NUMBER),
    ],
)
def test_what_is_not_an_identity_number_is_refused_saying_why(
    raw: str, problem: IdentityNumberProblem
) -> None:
    assert _problem(raw, allow_synthetic=True) is problem


def test_29_february_of_a_year_ending_in_00_is_a_day() -> None:
    assert parse_identity_number(LEAP_DAY_2000, allow_synthetic=False).digits == LEAP_DAY_2000


@pytest.mark.parametrize(
    "synthetic",
    [NAV_SYNTHETIC, NAV_SYNTHETIC_D_NUMBER, TENOR_SYNTHETIC, TENOR_SYNTHETIC_D_NUMBER],
)
def test_a_synthetic_number_is_refused_unless_allowed(synthetic: str) -> None:
    assert _problem(synthetic) is IdentityNumberProblem.SYNTHETIC_NOT_ALLOWED


@pytest.mark.parametrize(
    ("synthetic", "source", "kind"),
    [
        (NAV_SYNTHETIC, SyntheticSource.NAV, IdentityNumberKind.FODSELSNUMMER),
        (NAV_SYNTHETIC_D_NUMBER, SyntheticSource.NAV, IdentityNumberKind.D_NUMBER),
        (TENOR_SYNTHETIC, SyntheticSource.TENOR, IdentityNumberKind.FODSELSNUMMER),
        (TENOR_SYNTHETIC_D_NUMBER, SyntheticSource.TENOR, IdentityNumberKind.D_NUMBER),
    ],
)
def test_a_synthetic_number_is_accepted_when_allowed_and_says_whose_it_is(
    synthetic: str, source: SyntheticSource, kind: IdentityNumberKind
) -> None:
    number = parse_identity_number(synthetic, allow_synthetic=True)

    assert number.synthetic is source
    assert number.kind is kind


def test_stdnum_alone_would_refuse_tenor_numbers() -> None:
    assert not fodselsnummer.is_valid(TENOR_SYNTHETIC)


@pytest.mark.parametrize(
    "raw", [FODSELSNUMMER, "15108695077", NAV_SYNTHETIC, NO_SUCH_DAY, FH_NUMBER, "1510869508"]
)
def test_neither_an_error_nor_a_repr_shows_the_digits(raw: str) -> None:
    try:
        shown = repr(parse_identity_number(raw, allow_synthetic=False))
        shown += str(parse_identity_number(raw, allow_synthetic=False))
    except InvalidIdentityNumber as refused:
        shown = str(refused) + repr(refused)

    assert raw[:6] not in shown
    assert raw[6:] not in shown
