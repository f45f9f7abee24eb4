"""The rules the models hold beyond types: legal basis, consent recipients, agreements, bounds,
and the strict validation of inbound identity numbers."""

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.directory import AgreementRegisteredV1, OrganisationRegisteredV1
from schemas.examples import SYNTHETIC_IDENTITY_NUMBER, example_of
from schemas.inbound import PupilLeftSchoolV1
from schemas.person import ConsentGivenV1
from schemas.referrals import ReferralRedirectedV1, ReferralSubmittedV1, StatutoryBasis


def _data(model: type[Any]) -> dict[str, Any]:
    data: dict[str, Any] = example_of(model).model_dump(mode="json")
    return data


def test_a_referral_without_consent_or_statutory_basis_is_refused() -> None:
    with pytest.raises(ValidationError, match="consent_id or a statutory_basis"):
        ReferralSubmittedV1.model_validate(_data(ReferralSubmittedV1) | {"consent_id": None})


def test_a_referral_on_a_statutory_basis_needs_no_consent() -> None:
    referral = ReferralSubmittedV1.model_validate(
        _data(ReferralSubmittedV1)
        | {"consent_id": None, "statutory_basis": StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE}
    )

    assert referral.consent_id is None


def test_a_redirection_needs_a_legal_basis_too() -> None:
    with pytest.raises(ValidationError, match="consent_id or a statutory_basis"):
        ReferralRedirectedV1.model_validate(
            _data(ReferralRedirectedV1) | {"consent_id": None, "statutory_basis": None}
        )


def test_a_consent_names_at_least_one_recipient() -> None:
    with pytest.raises(ValidationError, match="at least one recipient"):
        ConsentGivenV1.model_validate(
            _data(ConsentGivenV1) | {"recipient_organisation_ids": [], "recipient_sectors": []}
        )


def test_a_consent_expires_after_it_was_given() -> None:
    data = _data(ConsentGivenV1)

    with pytest.raises(ValidationError, match="expires_at"):
        ConsentGivenV1.model_validate(data | {"expires_at": data["occurred_at"]})


def test_an_agreement_needs_a_guardians_consent_below_18_unless_it_says_otherwise() -> None:
    data = _data(AgreementRegisteredV1)
    del data["guardian_consent_below_age"]

    assert AgreementRegisteredV1.model_validate(data).guardian_consent_below_age == 18


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"linkage_level": "coordination"}, "coordination needs a lead organisation"),
        ({"lead_organisation_id": "00000000-0000-4000-8000-000000000000"}, "not a party"),
        ({"valid_until": "2020-01-01"}, "valid_until is before valid_from"),
        (
            {"target_groups": [{"min_age": 25, "max_age": 15, "situations": ["unemployed"]}]},
            "min_age is greater than max_age",
        ),
    ],
)
def test_an_inconsistent_agreement_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AgreementRegisteredV1.model_validate(_data(AgreementRegisteredV1) | change)


def test_a_route_names_an_organisation_or_a_type_not_free_text() -> None:
    data = _data(AgreementRegisteredV1)
    data["routes"][0]["to_organisation"] = {"organisation_name": "NAV Sentrum"}

    with pytest.raises(ValidationError):
        AgreementRegisteredV1.model_validate(data)


@pytest.mark.parametrize(
    "change",
    [
        {"nickname": "Kari"},
        {"name": "N" * 201},
        {"county_number": "3"},
        {"municipality_numbers": ["٠٣٠١"]},  # Arabic-Indic digits: \d would take them
        {"municipality_numbers": ["0301"] * 101},
        {"organisation_number": "912345689"},  # wrong check digit
        {"occurred_at": "2026-09-14T09:30:00"},  # no time zone
    ],
)
def test_an_organisation_event_is_strict(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        OrganisationRegisteredV1.model_validate(_data(OrganisationRegisteredV1) | change)


def test_events_are_frozen() -> None:
    referral = example_of(ReferralSubmittedV1)

    with pytest.raises(ValidationError):
        referral.purpose = referral.purpose  # type: ignore[misc]


@pytest.mark.parametrize(
    "number",
    [
        SYNTHETIC_IDENTITY_NUMBER,  # NAV's synthetic numbers: month + 40
        "55450850054",  # a synthetic D-number: day + 40 as well
        "15108695088",  # the fødselsnummer in python-stdnum's own documentation
    ],
)
def test_an_identity_number_that_stdnum_accepts_is_accepted(number: str) -> None:
    pupil = PupilLeftSchoolV1.model_validate(
        _data(PupilLeftSchoolV1) | {"national_identity_number": number}
    )

    assert pupil.national_identity_number == number


@pytest.mark.parametrize(
    "number",
    [
        "15450850061",  # wrong second check digit
        "15450850160",  # wrong first check digit
        "1545085006",  # ten digits
        "154508 50060",  # formatted
        "15859012342",  # Skatteetaten's Tenor synthetic numbers (month + 80): stdnum refuses
        "15453950066",  # born in 2039: not yet
    ],
)
def test_an_identity_number_that_stdnum_refuses_is_refused(number: str) -> None:
    with pytest.raises(ValidationError) as raised:
        PupilLeftSchoolV1.model_validate(
            _data(PupilLeftSchoolV1) | {"national_identity_number": number}
        )

    assert number not in str(raised.value.errors(include_input=False))


@pytest.mark.parametrize(
    "school",
    [
        {"school_organisation_id": "12345678-9abc-4def-8123-456789abcdef"},
        {"school_organisation_number": None},
    ],
    ids=["both", "neither"],
)
def test_an_inbound_event_names_the_school_exactly_once(school: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        PupilLeftSchoolV1.model_validate(_data(PupilLeftSchoolV1) | school)


def test_an_inbound_event_may_name_the_school_by_id() -> None:
    pupil = PupilLeftSchoolV1.model_validate(
        _data(PupilLeftSchoolV1)
        | {
            "school_organisation_number": None,
            "school_organisation_id": "12345678-9abc-4def-8123-456789abcdef",
        }
    )

    assert pupil.left_at == dt.date(2026, 9, 11)
