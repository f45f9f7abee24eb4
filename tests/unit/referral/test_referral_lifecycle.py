"""Every action from every status: what the lifecycle allows, and that a refusal changes
nothing."""

import copy

import pytest

from schemas.codes import Purpose
from schemas.referrals import (
    CancellationReason,
    Outcome,
    ReferralAcceptedV1,
    ReferralAssignedV1,
    ReferralCancelledV1,
    ReferralCompletedV1,
    ReferralContactRecordedV1,
    ReferralFollowUpRecordedV1,
    ReferralReceivedV1,
    ReferralRedirectedV1,
    ReferralRejectedV1,
    ReferralStartedV1,
    ReferralSubmittedV1,
    ReferralWithdrawnV1,
    RejectionReason,
    StatutoryBasis,
    WithdrawalReason,
)
from services.referral.domain.errors import IllegalTransition, NoteTooLong, StaleVersion
from services.referral.domain.records import MAX_NOTE_LENGTH
from services.referral.domain.referral import Referral
from services.referral.domain.status import ReferralAction, ReferralStatus
from tests.unit.referral.factories import (
    AGREEMENT_ID,
    COUNSELLOR,
    FILER,
    FOLLOW_UP_SERVICE,
    LATER,
    NAV,
    NOW,
    in_status,
    perform,
)

S = ReferralStatus
A = ReferralAction
ACTIONS = [action for action in ReferralAction if action is not A.FILE]

# Written out here, not read from the code: the lifecycle of DESIGN.md.
ALLOWED_FROM: dict[ReferralAction, set[ReferralStatus]] = {
    A.RECEIVE: {S.SUBMITTED, S.REDIRECTED},
    A.ACCEPT: {S.RECEIVED},
    A.REJECT: {S.RECEIVED},
    A.REDIRECT: {S.RECEIVED},
    A.WITHDRAW: {S.SUBMITTED, S.REDIRECTED, S.RECEIVED},
    A.START: {S.ACCEPTED},
    A.RECORD_CONTACT: {S.ACCEPTED, S.IN_PROGRESS},
    A.RECORD_FOLLOW_UP: {S.IN_PROGRESS},
    A.COMPLETE: {S.IN_PROGRESS},
    A.ASSIGN: {S.SUBMITTED, S.REDIRECTED, S.RECEIVED, S.ACCEPTED, S.IN_PROGRESS},
    A.CANCEL: {S.SUBMITTED, S.REDIRECTED, S.RECEIVED, S.ACCEPTED, S.IN_PROGRESS},
}
LEADS_TO: dict[ReferralAction, ReferralStatus | None] = {
    A.RECEIVE: S.RECEIVED,
    A.ACCEPT: S.ACCEPTED,
    A.REJECT: S.REJECTED,
    A.REDIRECT: S.REDIRECTED,
    A.WITHDRAW: S.WITHDRAWN,
    A.START: S.IN_PROGRESS,
    A.RECORD_CONTACT: None,
    A.RECORD_FOLLOW_UP: None,
    A.COMPLETE: S.COMPLETED,
    A.ASSIGN: None,
    A.CANCEL: S.CANCELLED,
}
EVENT_OF: dict[ReferralAction, type] = {
    A.RECEIVE: ReferralReceivedV1,
    A.ACCEPT: ReferralAcceptedV1,
    A.REJECT: ReferralRejectedV1,
    A.REDIRECT: ReferralRedirectedV1,
    A.WITHDRAW: ReferralWithdrawnV1,
    A.START: ReferralStartedV1,
    A.RECORD_CONTACT: ReferralContactRecordedV1,
    A.RECORD_FOLLOW_UP: ReferralFollowUpRecordedV1,
    A.COMPLETE: ReferralCompletedV1,
    A.ASSIGN: ReferralAssignedV1,
    A.CANCEL: ReferralCancelledV1,
}
CASES = [(status, action) for status in ReferralStatus for action in ACTIONS]


def _snapshot(referral: Referral) -> dict[str, object]:
    return copy.deepcopy(vars(referral))


def test_filing_records_one_submitted_event_at_version_one() -> None:
    referral = in_status(S.SUBMITTED)

    assert referral.version == 1
    assert [type(event) for event in referral.events] == [ReferralSubmittedV1]
    submitted = referral.events[0]
    assert isinstance(submitted, ReferralSubmittedV1)
    assert submitted.referral_id == referral.referral_id
    assert submitted.from_organisation_id == FOLLOW_UP_SERVICE.organisation_id
    assert submitted.to_organisation_id == NAV.organisation_id
    assert submitted.actor == FILER
    assert submitted.occurred_at == NOW
    assert submitted.agreement_id == AGREEMENT_ID
    assert submitted.agreement_version == 1
    assert submitted.purpose is Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK
    assert submitted.statutory_basis is StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE
    assert submitted.consent_id is None
    assert [entry.version for entry in referral.history] == [1]


@pytest.mark.parametrize(("status", "action"), CASES, ids=lambda case: str(case))
def test_an_action_succeeds_exactly_from_the_statuses_the_lifecycle_allows(
    status: ReferralStatus, action: ReferralAction
) -> None:
    referral = in_status(status)
    before = _snapshot(referral)
    version, event_count = referral.version, len(referral.events)

    if status in ALLOWED_FROM[action]:
        perform(referral, action)

        assert referral.version == version + 1
        assert referral.status is (LEADS_TO[action] or status)
        new_events = referral.events[event_count:]
        assert [type(event) for event in new_events] == [EVENT_OF[action]]
        assert referral.history[-1].event is new_events[0]
        assert referral.history[-1].version == referral.version
    else:
        with pytest.raises(IllegalTransition) as refused:
            perform(referral, action)

        assert refused.value.status is status
        assert refused.value.action is action
        assert _snapshot(referral) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_an_action_on_a_stale_version_is_refused_and_changes_nothing(
    action: ReferralAction,
) -> None:
    status = sorted(ALLOWED_FROM[action])[0]
    referral = in_status(status)
    before = _snapshot(referral)

    with pytest.raises(StaleVersion) as refused:
        perform(referral, action, expected_version=referral.version - 1)

    assert (refused.value.expected, refused.value.actual) == (
        referral.version - 1,
        referral.version,
    )
    assert _snapshot(referral) == before


def test_a_newer_version_than_the_current_one_is_refused_too() -> None:
    referral = in_status(S.SUBMITTED)

    with pytest.raises(StaleVersion):
        perform(referral, A.RECEIVE, expected_version=2)


def test_a_closed_referral_is_refused_before_its_version_is_looked_at_only_when_current() -> None:
    referral = in_status(S.COMPLETED)

    with pytest.raises(StaleVersion):
        perform(referral, A.CANCEL, expected_version=1)
    with pytest.raises(IllegalTransition):
        perform(referral, A.CANCEL)


def test_receiving_accepting_and_starting_stamp_their_times() -> None:
    referral = in_status(S.IN_PROGRESS)

    assert referral.submitted_at == NOW
    assert referral.received_at == LATER
    assert referral.accepted_at == LATER
    assert referral.started_at == LATER
    assert referral.closed_at is None


def test_a_closing_step_records_its_code_and_time() -> None:
    completed = in_status(S.COMPLETED)
    rejected = in_status(S.REJECTED)
    withdrawn = in_status(S.WITHDRAWN)
    cancelled = in_status(S.CANCELLED)

    assert completed.outcome is Outcome.EMPLOYMENT
    assert rejected.rejection_reason is RejectionReason.OUTSIDE_MANDATE
    assert withdrawn.withdrawal_reason is WithdrawalReason.FILED_IN_ERROR
    assert cancelled.cancellation_reason is CancellationReason.DUPLICATE
    assert {r.closed_at for r in (completed, rejected, withdrawn, cancelled)} == {LATER}
    assert not any(r.is_open for r in (completed, rejected, withdrawn, cancelled))


def test_contacts_and_follow_ups_are_kept_on_the_referral() -> None:
    referral = in_status(S.ACCEPTED)

    perform(referral, A.RECORD_CONTACT)
    perform(referral, A.START)
    perform(referral, A.RECORD_FOLLOW_UP)
    perform(referral, A.RECORD_FOLLOW_UP)

    assert len(referral.contacts) == 1
    assert len(referral.follow_ups) == 2
    assert referral.follow_ups[0].follow_up_id != referral.follow_ups[1].follow_up_id


def test_a_note_stays_in_the_history_and_never_reaches_the_event() -> None:
    referral = in_status(S.RECEIVED)

    referral.reject(
        COUNSELLOR,
        RejectionReason.SUBJECT_DECLINED,
        expected_version=referral.version,
        now=LATER,
        note="Kari vil heller begynne på skolen igjen",
    )

    assert referral.history[-1].note == "Kari vil heller begynne på skolen igjen"
    assert "Kari" not in referral.events[-1].model_dump_json()
    assert "Kari" not in repr(referral.history[-1])


def test_a_note_over_the_limit_is_refused_and_changes_nothing() -> None:
    referral = in_status(S.IN_PROGRESS)
    before = _snapshot(referral)

    with pytest.raises(NoteTooLong):
        referral.complete(
            COUNSELLOR,
            Outcome.EDUCATION,
            expected_version=referral.version,
            now=LATER,
            note="x" * (MAX_NOTE_LENGTH + 1),
        )

    assert _snapshot(referral) == before


def test_a_naive_time_is_refused() -> None:
    referral = in_status(S.SUBMITTED)

    with pytest.raises(ValueError, match="naive"):
        perform(referral, A.RECEIVE, now=LATER.replace(tzinfo=None))
    assert referral.version == 1


def test_draining_the_events_empties_the_outbox_list_but_keeps_the_history() -> None:
    referral = in_status(S.ACCEPTED)

    drained = referral.drain_events()

    assert [type(event) for event in drained] == [
        ReferralSubmittedV1,
        ReferralReceivedV1,
        ReferralAcceptedV1,
    ]
    assert referral.events == []
    assert [entry.event for entry in referral.history] == drained
