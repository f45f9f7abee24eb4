"""A referral's deadlines from its agreement's service levels."""

import datetime as dt

from schemas.deadlines import DeadlineKind
from schemas.directory import ServiceLevels
from schemas.referrals import ContactResult
from services.referral.domain.deadlines import (
    Deadline,
    acknowledge_deadline,
    decide_deadline,
    first_contact_deadline,
    follow_up_deadline,
    open_deadlines,
)
from services.referral.domain.status import ReferralAction, ReferralStatus
from tests.unit.referral.factories import LATER, SERVICE_LEVELS, contact, in_status, perform

LEVELS = ServiceLevels(
    acknowledge_within_working_days=2,
    decide_within_working_days=10,
    first_contact_within_working_days=5,
    follow_up_every_days=30,
)


def _oslo(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    # Summer time: Oslo is UTC+2.
    return dt.datetime(year, month, day, hour - 2, tzinfo=dt.UTC)


def test_acknowledging_is_due_at_the_end_of_the_n_th_working_day_after_filing() -> None:
    deadline = acknowledge_deadline(_oslo(2026, 3, 31), LEVELS)

    assert deadline == Deadline(
        DeadlineKind.ACKNOWLEDGE, dt.date(2026, 4, 7), dt.datetime(2026, 4, 7, 22, tzinfo=dt.UTC)
    )


def test_a_filing_late_in_the_evening_in_oslo_counts_from_that_oslo_day() -> None:
    # 23:30 in Oslo on Wednesday 13 May is 21:30 UTC; Thursday 14 May is Ascension Day.
    filed = dt.datetime(2026, 5, 13, 21, 30, tzinfo=dt.UTC)

    assert acknowledge_deadline(filed, LEVELS).due_on == dt.date(2026, 5, 18)


def test_deciding_is_due_n_working_days_after_receipt_across_ascension_and_whit_monday() -> None:
    assert decide_deadline(_oslo(2026, 5, 11), LEVELS).due_on == dt.date(2026, 5, 27)


def test_first_contact_is_due_n_working_days_after_acceptance() -> None:
    deadline = first_contact_deadline(_oslo(2026, 12, 22), LEVELS)

    assert deadline.kind is DeadlineKind.FIRST_CONTACT
    assert deadline.due_on == dt.date(2026, 12, 30)


def test_follow_up_is_due_in_calendar_days_even_on_a_holiday() -> None:
    deadline = follow_up_deadline(_oslo(2026, 11, 25), LEVELS)

    assert deadline.due_on == dt.date(2026, 12, 25)
    assert deadline.due_at == dt.datetime(2026, 12, 25, 23, tzinfo=dt.UTC)


def test_a_deadline_is_missed_from_the_moment_its_day_ends() -> None:
    deadline = acknowledge_deadline(_oslo(2026, 3, 31), LEVELS)

    assert not deadline.is_missed_at(deadline.due_at - dt.timedelta(microseconds=1))
    assert deadline.is_missed_at(deadline.due_at)


def test_a_referral_waiting_for_receipt_has_the_acknowledge_deadline() -> None:
    for status in (ReferralStatus.SUBMITTED, ReferralStatus.REDIRECTED):
        referral = in_status(status)

        [deadline] = open_deadlines(referral, SERVICE_LEVELS)

        assert deadline == acknowledge_deadline(referral.addressed_at, SERVICE_LEVELS)
    assert in_status(ReferralStatus.REDIRECTED).addressed_at == LATER


def test_a_received_referral_has_the_decide_deadline() -> None:
    referral = in_status(ReferralStatus.RECEIVED)

    assert [d.kind for d in open_deadlines(referral, SERVICE_LEVELS)] == [DeadlineKind.DECIDE]


def test_an_accepted_referral_has_the_first_contact_deadline_until_the_person_is_reached() -> None:
    referral = in_status(ReferralStatus.ACCEPTED)
    kinds = [d.kind for d in open_deadlines(referral, SERVICE_LEVELS)]
    assert kinds == [DeadlineKind.FIRST_CONTACT]

    contact(referral, 1, result=ContactResult.NOT_REACHED)
    assert [d.kind for d in open_deadlines(referral, SERVICE_LEVELS)] == kinds

    contact(referral, 2, result=ContactResult.REACHED)
    assert open_deadlines(referral, SERVICE_LEVELS) == []


def test_work_in_progress_is_followed_up_from_the_start_and_then_from_the_last_follow_up() -> None:
    referral = in_status(ReferralStatus.IN_PROGRESS)
    contact(referral)
    [first] = open_deadlines(referral, SERVICE_LEVELS)
    assert first == follow_up_deadline(LATER, SERVICE_LEVELS)

    later = LATER + dt.timedelta(days=20)
    perform(referral, ReferralAction.RECORD_FOLLOW_UP, now=later)

    assert open_deadlines(referral, SERVICE_LEVELS) == [follow_up_deadline(later, SERVICE_LEVELS)]


def test_a_closed_referral_has_no_deadlines() -> None:
    for status in (
        ReferralStatus.COMPLETED,
        ReferralStatus.REJECTED,
        ReferralStatus.WITHDRAWN,
        ReferralStatus.CANCELLED,
    ):
        assert open_deadlines(in_status(status), SERVICE_LEVELS) == []
