"""The audit service's deadline rules: due dates in Norwegian working days, what each step of a
referral does to its deadlines, and which notices are due when, each once."""

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from schemas.deadlines import DeadlineKind, DeadlineMetV1, DeadlineMissedV1
from schemas.directory import ServiceLevels
from schemas.envelope import EventData
from schemas.examples import example_of
from schemas.ids import AgreementId, OrganisationId, ReferralId, SubjectId
from schemas.referrals import (
    ContactResult,
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
)
from services.audit.domain.deadlines import (
    Deadline,
    DeadlineState,
    Notice,
    approaching_from,
    due_at,
    notice_event,
    notice_id,
    notices_due,
    raised,
    step_of,
    take_step,
    with_service_levels,
)

E = TypeVar("E", bound=EventData)
LEVELS = ServiceLevels(
    acknowledge_within_working_days=2,
    decide_within_working_days=2,
    first_contact_within_working_days=1,
    follow_up_every_days=30,
)
UTC = dt.UTC


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "starts_at", "due"),
    [
        # Thursday 17 September 2026: Friday, then Monday (the weekend does not count).
        (DeadlineKind.ACKNOWLEDGE, at(2026, 9, 17, 8), at(2026, 9, 21, 22)),
        # Wednesday before Easter 2026: Maundy Thursday, Good Friday, the weekend and Easter
        # Monday are skipped; Tuesday 7 and Wednesday 8 April count.
        (DeadlineKind.DECIDE, at(2026, 4, 1, 9), at(2026, 4, 8, 22)),
        # Tuesday 16 May 2028: Constitution Day (Wednesday 17) does not count.
        (DeadlineKind.FIRST_CONTACT, at(2028, 5, 16, 12), at(2028, 5, 18, 22)),
        # Friday 14 May 2027: Monday 17 May is Constitution Day and Whit Monday at once.
        (DeadlineKind.ACKNOWLEDGE, at(2027, 5, 14, 12), at(2027, 5, 19, 22)),
        # 23:30 UTC on a Tuesday in summer is Wednesday in Oslo: counted from Wednesday.
        (DeadlineKind.FIRST_CONTACT, at(2026, 9, 15, 23, 30), at(2026, 9, 17, 22)),
        # Follow-ups are calendar days: due at the end of a Sunday, in winter time.
        (DeadlineKind.FOLLOW_UP, at(2026, 10, 2, 8), at(2026, 11, 1, 23)),
    ],
)
def test_a_deadline_falls_due_at_the_end_of_its_last_norwegian_day(
    kind: DeadlineKind, starts_at: dt.datetime, due: dt.datetime
) -> None:
    assert due_at(kind, starts_at, LEVELS) == due


@pytest.mark.parametrize(
    ("due", "working_days", "approaching"),
    [
        # Due at the end of Monday 21 September: from the end of Friday.
        (at(2026, 9, 21, 22), 1, at(2026, 9, 18, 22)),
        # Due at the end of Wednesday 8 April 2026: from the end of Tuesday 7 April, or, two
        # working days before, from the end of the Wednesday before Easter.
        (at(2026, 4, 8, 22), 1, at(2026, 4, 7, 22)),
        (at(2026, 4, 8, 22), 2, at(2026, 4, 1, 22)),
        # Due at the end of Thursday 18 May 2028: 17 May is skipped, from the end of the 16th.
        (at(2028, 5, 18, 22), 1, at(2028, 5, 16, 22)),
    ],
)
def test_a_deadline_approaches_from_working_days_before_its_due_day(
    due: dt.datetime, working_days: int, approaching: dt.datetime
) -> None:
    assert approaching_from(due, working_days) == approaching


def deadline(**changes: Any) -> Deadline:
    base = Deadline(
        referral_id=ReferralId(uuid.UUID(int=1)),
        kind=DeadlineKind.ACKNOWLEDGE,
        occurrence=1,
        subject_id=SubjectId(uuid.UUID(int=2)),
        organisation_id=OrganisationId(uuid.UUID(int=3)),
        agreement_id=AgreementId(uuid.UUID(int=4)),
        agreement_version=1,
        starts_at=at(2026, 9, 17, 8),
        due_at=at(2026, 9, 21, 22),  # the end of Monday; approaching from the end of Friday
    )
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(2026, 9, 18, 12), []),  # Friday, before it approaches
        (at(2026, 9, 19, 9), [Notice.APPROACHING]),  # Saturday
        (at(2026, 9, 21, 21, 59), [Notice.APPROACHING]),  # the last minute
        (at(2026, 9, 21, 22), [Notice.MISSED]),  # due: missed, no longer approaching
    ],
)
def test_an_open_deadline_approaches_then_is_missed(
    now: dt.datetime, expected: list[Notice]
) -> None:
    assert notices_due(deadline(), now=now, approaching_working_days=1) == expected


def test_an_open_deadline_is_missed_only_after_the_grace_and_a_late_step_at_once() -> None:
    grace = dt.timedelta(minutes=5)
    due = at(2026, 9, 21, 22)
    assert notices_due(deadline(), now=due + dt.timedelta(minutes=4), grace=grace) == []
    assert notices_due(deadline(), now=due + grace, grace=grace) == [Notice.MISSED]
    late = deadline(met_at=due + dt.timedelta(minutes=1))
    assert notices_due(late, now=due + dt.timedelta(minutes=2), grace=grace) == [
        Notice.MISSED,
        Notice.MET,
    ]


def test_each_notice_is_due_once() -> None:
    first = deadline()
    approached = raised(first, Notice.APPROACHING, at(2026, 9, 19, 9))
    assert notices_due(approached, now=at(2026, 9, 20, 9), approaching_working_days=1) == []
    missed = raised(approached, Notice.MISSED, at(2026, 9, 22, 9))
    assert notices_due(missed, now=at(2026, 9, 30), approaching_working_days=1) == []
    assert missed.state is DeadlineState.MISSED


def test_without_a_number_of_working_days_nothing_approaches() -> None:
    assert notices_due(deadline(), now=at(2026, 9, 19, 9)) == []


def test_a_deadline_met_in_time_is_met_and_never_missed() -> None:
    met = deadline(met_at=at(2026, 9, 21, 12))
    assert notices_due(met, now=at(2026, 9, 25), approaching_working_days=1) == [Notice.MET]
    done = raised(met, Notice.MET, at(2026, 9, 25))
    assert notices_due(done, now=at(2026, 10, 25), approaching_working_days=1) == []
    assert done.state is DeadlineState.MET


def test_a_deadline_met_late_is_missed_then_met() -> None:
    late = deadline(met_at=at(2026, 9, 22, 8))
    assert notices_due(late, now=at(2026, 9, 22, 8)) == [Notice.MISSED, Notice.MET]
    noticed = deadline(met_at=at(2026, 9, 22, 8), missed_raised_at=at(2026, 9, 22, 0))
    assert notices_due(noticed, now=at(2026, 9, 22, 8)) == [Notice.MET]


def test_a_deadline_closed_in_time_raises_nothing_and_one_closed_late_was_missed() -> None:
    assert notices_due(deadline(closed_at=at(2026, 9, 21, 12)), now=at(2026, 10, 1)) == []
    assert notices_due(deadline(closed_at=at(2026, 9, 23)), now=at(2026, 10, 1)) == [Notice.MISSED]


def test_a_deadline_without_service_levels_raises_nothing_until_it_has_them() -> None:
    pending = deadline(due_at=None, met_at=at(2026, 9, 22, 8))
    assert pending.state is DeadlineState.PENDING
    assert notices_due(pending, now=at(2026, 10, 1), approaching_working_days=1) == []
    known = with_service_levels(pending, LEVELS)
    assert known.due_at == at(2026, 9, 21, 22)
    assert notices_due(known, now=at(2026, 10, 1)) == [Notice.MISSED, Notice.MET]


def test_notices_have_one_id_each_and_carry_the_deadline() -> None:
    late = deadline(met_at=at(2026, 9, 22, 8))
    missed = notice_event(late, Notice.MISSED, at(2026, 9, 22, 9))
    met = notice_event(late, Notice.MET, at(2026, 9, 22, 9))
    assert isinstance(missed, DeadlineMissedV1)
    assert isinstance(met, DeadlineMetV1)
    assert (met.due_at, met.met_at, met.kind) == (late.due_at, late.met_at, late.kind)
    assert met.organisation_id == late.organisation_id
    ids = {notice_id(late, notice) for notice in Notice}
    assert len(ids) == 3
    assert notice_id(late, Notice.MET) == notice_id(replace(late, met_at=None), Notice.MET)
    assert notice_id(late, Notice.MET) != notice_id(replace(late, occurrence=2), Notice.MET)


REFERRAL = uuid.uuid4()
SUBJECT = uuid.uuid4()
SENDER, RECEIVER, ELSEWHERE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
AGREEMENT = uuid.uuid4()


def step(model: type[E], **changes: Any) -> E:
    return model.model_validate(
        example_of(model).model_dump()
        | {
            "referral_id": REFERRAL,
            "subject_id": SUBJECT,
            "from_organisation_id": SENDER,
            "to_organisation_id": RECEIVER,
            "occurred_at": at(2026, 9, 17, 8),
        }
        | changes
    )


def test_each_step_meets_closes_and_opens_what_it_should() -> None:
    K = DeadlineKind
    expected: list[tuple[EventData, frozenset[DeadlineKind], bool, tuple[DeadlineKind, ...]]] = [
        (step(ReferralSubmittedV1), frozenset(), False, (K.ACKNOWLEDGE,)),
        (step(ReferralReceivedV1), frozenset({K.ACKNOWLEDGE}), False, (K.DECIDE,)),
        (step(ReferralAcceptedV1), frozenset({K.ACKNOWLEDGE, K.DECIDE}), False, (K.FIRST_CONTACT,)),
        (step(ReferralRejectedV1), frozenset({K.ACKNOWLEDGE, K.DECIDE}), True, ()),
        (step(ReferralWithdrawnV1), frozenset(), True, ()),
        (step(ReferralStartedV1), frozenset(), False, (K.FOLLOW_UP,)),
        (
            step(ReferralContactRecordedV1, result=ContactResult.REACHED),
            frozenset({K.FIRST_CONTACT}),
            False,
            (),
        ),
        (step(ReferralFollowUpRecordedV1), frozenset({K.FOLLOW_UP}), False, (K.FOLLOW_UP,)),
        (step(ReferralCompletedV1), frozenset(), True, ()),
        (step(ReferralCancelledV1), frozenset(), True, ()),
    ]
    for data, meets, closes, opens in expected:
        found = step_of(data)
        assert found is not None, type(data).__name__
        assert (found.meets, found.closes, found.opens) == (meets, closes, opens), data.ce_type
        assert (found.referral_id, found.subject_id, found.receiver) == (
            REFERRAL,
            SUBJECT,
            RECEIVER,
        )


def test_a_redirect_decides_for_the_old_receiver_and_restarts_for_the_new_one() -> None:
    redirected = step_of(
        step(
            ReferralRedirectedV1,
            to_organisation_id=ELSEWHERE,
            redirected_from_organisation_id=RECEIVER,
            agreement_id=AGREEMENT,
            agreement_version=3,
        )
    )
    assert redirected is not None
    assert redirected.receiver == ELSEWHERE
    assert redirected.opens == (DeadlineKind.ACKNOWLEDGE,)
    assert redirected.agreement == (AGREEMENT, 3)
    decide = deadline(kind=DeadlineKind.DECIDE, organisation_id=RECEIVER)
    assert take_step(decide, redirected).met_at == redirected.at


def test_steps_that_change_no_deadline() -> None:
    assert step_of(step(ReferralContactRecordedV1, result=ContactResult.NOT_REACHED)) is None
    assert step_of(step(ReferralAssignedV1)) is None
    assert step_of(example_of(DeadlineMissedV1)) is None


def test_a_step_meets_or_closes_only_what_is_still_due() -> None:
    completed = step_of(step(ReferralCompletedV1))
    contacted = step_of(step(ReferralContactRecordedV1, result=ContactResult.REACHED))
    assert completed is not None
    assert contacted is not None
    follow_up = deadline(kind=DeadlineKind.FOLLOW_UP)
    first_contact = deadline(kind=DeadlineKind.FIRST_CONTACT)
    assert take_step(follow_up, completed).closed_at == completed.at
    assert take_step(follow_up, contacted) == follow_up
    assert take_step(first_contact, contacted).met_at == contacted.at
    met = deadline(met_at=at(2026, 9, 18))
    assert take_step(met, completed) == met
