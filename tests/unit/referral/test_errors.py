"""Every rule error says which rule refused and why, under one base, without personal data."""

import uuid

import pytest

from schemas.codes import Role
from schemas.ids import AgreementId, ConsentId
from services.referral.domain import errors
from services.referral.domain.errors import (
    ConsentAlreadyWithdrawn,
    ConsentDoesNotCover,
    ConsentRefusalReason,
    GuardianConsentRequired,
    IdentityNumberProblem,
    IllegalTransition,
    InvalidAssignee,
    InvalidConsent,
    InvalidIdentityNumber,
    NoAgreementRoute,
    NoLegalBasis,
    NoteTooLong,
    RedirectToCurrentReceiver,
    ReferralDomainError,
    RouteRefusal,
    RouteRefusalCode,
    StaleVersion,
)
from services.referral.domain.permissions import check_permission
from services.referral.domain.status import ReferralAction, ReferralStatus
from tests.unit.referral.factories import FILER, FOLLOW_UP_SERVICE, NAV

CONSENT = ConsentId(uuid.UUID("a3b2c1d0-e9f8-4a7b-8c6d-5e4f3a2b1c0d"))
AGREEMENT = AgreementId(uuid.UUID("5e0c7a1b-2d3f-4e5a-9b6c-7d8e9f0a1b2c"))


def test_every_domain_error_is_a_referral_domain_error() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, Exception)
    ]

    assert len(classes) >= 14
    assert all(issubclass(cls, ReferralDomainError) for cls in classes)


def test_an_illegal_transition_names_the_status_and_the_action() -> None:
    error = IllegalTransition(status=ReferralStatus.COMPLETED, action=ReferralAction.RECORD_CONTACT)

    assert str(error) == "cannot record a contact on a referral that is completed"
    assert str(IllegalTransition(status=ReferralStatus.RECEIVED, action=ReferralAction.START)) == (
        "cannot start a referral that is received"
    )


def test_a_stale_version_names_both_versions() -> None:
    assert str(StaleVersion(expected=3, actual=5)) == (
        "the referral is at version 5, not 3: reload it and try again"
    )


def test_not_allowed_says_who_may() -> None:
    with pytest.raises(errors.NotAllowed) as refused:
        check_permission(
            ReferralAction.ACCEPT,
            FILER,
            sender=FOLLOW_UP_SERVICE.organisation_id,
            receiver=NAV.organisation_id,
        )

    assert str(refused.value) == (
        "a filer may not accept this referral: only a coordinator or counsellor of the "
        "receiving organisation may"
    )
    assert refused.value.role is Role.FILER


def test_no_agreement_route_lists_each_refusal() -> None:
    error = NoAgreementRoute(
        (
            RouteRefusal(RouteRefusalCode.NOT_IN_FORCE, "it ended on 2026-07-31", AGREEMENT, 2),
            RouteRefusal(RouteRefusalCode.NO_AGREEMENT, "there is no agreement to refer under"),
        )
    )

    assert str(error) == (
        "no valid agreement allows this referral: "
        f"agreement {AGREEMENT} (version 2): it ended on 2026-07-31; "
        "there is no agreement to refer under"
    )


def test_no_agreement_route_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="at least one reason"):
        NoAgreementRoute(())


def test_no_legal_basis_says_both_are_missing() -> None:
    assert str(NoLegalBasis()) == (
        "no legal basis to share: there is no consent that covers the recipient and purpose, "
        "and no statutory basis was given"
    )


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        (ConsentRefusalReason.ANOTHER_PERSON, "it was given for another person"),
        (
            ConsentRefusalReason.RECIPIENT_NOT_COVERED,
            "it covers neither the receiving organisation nor its sector",
        ),
        (ConsentRefusalReason.PURPOSE_NOT_COVERED, "it does not cover the purpose"),
        (ConsentRefusalReason.NOT_YET_GIVEN, "it was not yet given at that time"),
        (ConsentRefusalReason.EXPIRED, "it has expired"),
        (ConsentRefusalReason.WITHDRAWN, "it has been withdrawn"),
        (ConsentRefusalReason.GUARDIAN_FOR_PERSON_OF_AGE, "given by a guardian, but the person"),
    ],
)
def test_a_consent_that_does_not_cover_says_why(reason: ConsentRefusalReason, why: str) -> None:
    error = ConsentDoesNotCover(consent_id=CONSENT, reason=reason)

    assert str(error).startswith(f"consent {CONSENT} does not cover this referral: ")
    assert why in str(error)


def test_guardian_consent_required_names_the_agreements_age() -> None:
    assert str(GuardianConsentRequired(consent_id=CONSENT, below_age=16)) == (
        f"consent {CONSENT} was given by the person, but the agreement requires a guardian's "
        "consent for a person under 16"
    )


@pytest.mark.parametrize(
    ("problem", "why"),
    [
        (IdentityNumberProblem.NOT_DIGITS, "digits only"),
        (IdentityNumberProblem.WRONG_LENGTH, "11 digits"),
        (IdentityNumberProblem.WRONG_CHECK_DIGIT, "a check digit is wrong"),
        (IdentityNumberProblem.NOT_A_DATE, "not a date"),
        (IdentityNumberProblem.NOT_A_NATIONAL_IDENTITY_NUMBER, "help number"),
        (IdentityNumberProblem.SYNTHETIC_NOT_ALLOWED, "synthetic test number"),
    ],
)
def test_an_invalid_identity_number_says_what_is_wrong(
    problem: IdentityNumberProblem, why: str
) -> None:
    error = InvalidIdentityNumber(problem)

    assert str(error).startswith("not a valid national identity number: ")
    assert why in str(error)


def test_the_smaller_rules_say_what_they_refuse() -> None:
    assert str(ConsentAlreadyWithdrawn(CONSENT)) == f"consent {CONSENT} has already been withdrawn"
    assert str(InvalidConsent("it names no purpose")) == "not a valid consent: it names no purpose"
    assert str(RedirectToCurrentReceiver()) == (
        "the referral is already addressed to that organisation"
    )
    assert str(InvalidAssignee("it is already assigned to that user")) == (
        "cannot assign the referral: it is already assigned to that user"
    )
    assert str(NoteTooLong(length=4001, limit=4000)) == (
        "the note has 4001 characters; at most 4000 are allowed"
    )
