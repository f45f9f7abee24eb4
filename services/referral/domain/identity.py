"""Norwegian national identity numbers: fødselsnummer and D-number, checked with
`python-stdnum`'s check-digit functions.

What is accepted: eleven digits (spaces and hyphens ignored, as stdnum's `compact` does) whose
check digits are right under Skatteetaten's rules, including the rule in force for numbers
issued from 2032, under which the first check digit may take up to four values (the weighted
sum of the first ten digits leaves a remainder of 0, 1, 2 or 3 modulo 11); and whose first six
digits are a day and month (a D-number adds 40 to the day) with a two-digit year.

What is refused: FH numbers (first digit 8 or 9) and H numbers, which are health-sector help
numbers, not national identity numbers; and synthetic test numbers unless `allow_synthetic`
is set. Synthetic numbers are NAV's (Dolly: month + 40) and Skatteetaten's Tenor test numbers
(month + 80), either of them also as D-numbers. Month + 40 is also how H numbers are written,
so without the flag such a number is refused as synthetic, and with it accepted as synthetic.

Nothing else is read from the digits: not the century, the birth date, the age or the gender
(from 2032 the individual number no longer tells the century or the gender, and a D-number's
date need not be a birth date). stdnum's own `validate` is not used: it knows only one first
check digit, infers the century from the individual number, and reads today's date from the
clock to refuse a birth in the future. The person's birth date is passed in separately."""

from dataclasses import dataclass
from enum import StrEnum

from stdnum.no import fodselsnummer
from stdnum.util import isdigits

from services.referral.domain.errors import IdentityNumberProblem, InvalidIdentityNumber


class IdentityNumberKind(StrEnum):
    """Which kind of national identity number it is."""

    FODSELSNUMMER = "fodselsnummer"
    D_NUMBER = "d_number"  # for people without a fødselsnummer: the day plus 40


class SyntheticSource(StrEnum):
    """Who makes a synthetic test number, by how much its month is shifted."""

    NAV = "nav"  # month + 40
    TENOR = "tenor"  # Skatteetaten's Tenor test data: month + 80


@dataclass(frozen=True, repr=False)
class NationalIdentityNumber:
    """A valid fødselsnummer or D-number. Its repr and str never show the digits: only
    `digits` does, for encryption and the keyed hash."""

    digits: str
    kind: IdentityNumberKind
    synthetic: SyntheticSource | None

    def __repr__(self) -> str:
        synthetic = "None" if self.synthetic is None else self.synthetic.value
        return f"NationalIdentityNumber(kind={self.kind.value}, synthetic={synthetic}, <hidden>)"

    __str__ = __repr__


def parse_identity_number(raw: str, *, allow_synthetic: bool) -> NationalIdentityNumber:
    """The number, checked; InvalidIdentityNumber (without the number) when it is not valid."""
    number = fodselsnummer.compact(raw)
    if number and not isdigits(number):
        raise InvalidIdentityNumber(IdentityNumberProblem.NOT_DIGITS)
    if len(number) != 11:
        raise InvalidIdentityNumber(IdentityNumberProblem.WRONG_LENGTH)
    if not _check_digits_are_right(number):
        raise InvalidIdentityNumber(IdentityNumberProblem.WRONG_CHECK_DIGIT)
    day, month, year = int(number[0:2]), int(number[2:4]), int(number[4:6])
    if day >= 80:
        raise InvalidIdentityNumber(IdentityNumberProblem.NOT_A_NATIONAL_IDENTITY_NUMBER)
    kind = IdentityNumberKind.FODSELSNUMMER
    if day > 40:
        kind, day = IdentityNumberKind.D_NUMBER, day - 40
    synthetic = None
    if month > 80:
        synthetic, month = SyntheticSource.TENOR, month - 80
    elif month > 40:
        synthetic, month = SyntheticSource.NAV, month - 40
    if not _is_a_day(day, month, year):
        raise InvalidIdentityNumber(IdentityNumberProblem.NOT_A_DATE)
    if synthetic is not None and not allow_synthetic:
        raise InvalidIdentityNumber(IdentityNumberProblem.SYNTHETIC_NOT_ALLOWED)
    return NationalIdentityNumber(number, kind, synthetic)


def _check_digits_are_right(number: str) -> bool:
    # stdnum's first check digit is the one for remainder 0; from 2032 the remainders 1, 2 and
    # 3 are valid too (Skatteetaten, "Nytt fødselsnummer fra 2032"). A value of 10 is never
    # a digit. The second check digit is computed over the first ten digits as before.
    first = int(fodselsnummer.calc_check_digit1(number[:9]))
    allowed_first = {str((first + remainder) % 11) for remainder in range(4)} - {"10"}
    if number[9] not in allowed_first:
        return False
    return number[10] == fodselsnummer.calc_check_digit2(number[:10])


_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_a_day(day: int, month: int, two_digit_year: int) -> bool:
    # The century is not known, so 29 February is a day in any year divisible by four (00 is:
    # 2000 was a leap year).
    if not 1 <= month <= 12 or day < 1:
        return False
    if month == 2 and day == 29:
        return two_digit_year % 4 == 0
    return day <= _DAYS_IN_MONTH[month - 1]
