"""Cancellation: by an administrator of either organisation, or by the system when the person's
consent is withdrawn or their data erased."""

import copy

import pytest

from schemas.actors import Actor
from schemas.codes import Role
from schemas.person import SubjectErasedV1
from schemas.referrals import CancellationReason, ReferralCancelledV1
from services.referral.domain.bulk import cancel_referrals_of_erased_subject
from services.referral.domain.errors import IllegalTransition, NotAllowed
from services.referral.domain.status import ReferralStatus
from tests.unit.referral.factories import (
    ADMIN,
    ADULT,
    FOLLOW_UP_SERVICE,
    LATER,
    MINOR,
    NAV_EAST,
    actor,
    in_status,
)

ERASED = SubjectErasedV1(
    subject_id=ADULT.subject_id, actor=actor(NAV_EAST, Role.ADMIN), occurred_at=LATER
)


@pytest.mark.parametrize("admin", [ADMIN, actor(FOLLOW_UP_SERVICE, Role.ADMIN)])
def test_an_administrator_of_either_organisation_cancels_a_duplicate(admin: Actor) -> None:
    referral = in_status(ReferralStatus.RECEIVED)

    referral.cancel(
        admin, CancellationReason.DUPLICATE, expected_version=referral.version, now=LATER
    )

    assert referral.status is ReferralStatus.CANCELLED
    event = referral.events[-1]
    assert isinstance(event, ReferralCancelledV1)
    assert event.reason is CancellationReason.DUPLICATE
    assert event.consent_id is None


def test_an_administrator_cannot_claim_withdrawn_consent_without_withdrawing_it() -> None:
    referral = in_status(ReferralStatus.ACCEPTED)
    before = copy.deepcopy(vars(referral))

    with pytest.raises(NotAllowed, match="by withdrawing that consent"):
        referral.cancel(
            ADMIN,
            CancellationReason.CONSENT_WITHDRAWN,
            expected_version=referral.version,
            now=LATER,
        )

    assert vars(referral) == before


def test_erasure_cancels_every_open_referral_of_the_person_and_no_other() -> None:
    open_ones = [
        in_status(status, name=str(status))
        for status in (
            ReferralStatus.SUBMITTED,
            ReferralStatus.REDIRECTED,
            ReferralStatus.IN_PROGRESS,
        )
    ]
    completed = in_status(ReferralStatus.COMPLETED, name="done")
    someone_else = in_status(ReferralStatus.RECEIVED, subject=MINOR, name="minor")

    cancelled = cancel_referrals_of_erased_subject(ERASED, [*open_ones, completed, someone_else])

    assert cancelled == open_ones
    for referral in open_ones:
        event = referral.events[-1]
        assert isinstance(event, ReferralCancelledV1)
        assert event.reason is CancellationReason.SUBJECT_ERASED
        assert event.actor == ERASED.actor
        assert referral.cancellation_reason is CancellationReason.SUBJECT_ERASED
    assert completed.status is ReferralStatus.COMPLETED
    assert someone_else.status is ReferralStatus.RECEIVED


def test_a_closed_referral_is_not_cancelled_for_erasure() -> None:
    with pytest.raises(IllegalTransition):
        in_status(ReferralStatus.REJECTED).cancel_for_erasure(ERASED)
