"""Erasure waits for retention: no open referral, and the last closed one kept for
RETENTION_YEARS calendar years after it closed."""

import datetime as dt

import pytest

from services.referral.domain.referral import Referral
from services.referral.domain.retention import (
    RETENTION_YEARS,
    RetentionNotOver,
    check_erasable,
    retained_until,
    years_after,
)
from services.referral.domain.status import ReferralStatus
from tests.unit.referral.factories import ADULT, LATER, MINOR, in_status

SUBJECT = ADULT.subject_id


def _closed(status: ReferralStatus, closed_at: dt.datetime, name: str) -> Referral:
    referral = in_status(status, name=name)
    referral.closed_at = closed_at
    return referral


def test_the_period_is_five_years_until_the_archive_law_period_is_confirmed() -> None:
    assert RETENTION_YEARS == 5


def test_a_person_without_referrals_may_be_erased_at_once() -> None:
    check_erasable(SUBJECT, [], LATER)

    assert retained_until([]) is None


@pytest.mark.parametrize(
    "status",
    [
        ReferralStatus.SUBMITTED,
        ReferralStatus.RECEIVED,
        ReferralStatus.REDIRECTED,
        ReferralStatus.ACCEPTED,
        ReferralStatus.IN_PROGRESS,
    ],
)
def test_an_open_referral_keeps_the_person_however_old_the_closed_ones(
    status: ReferralStatus,
) -> None:
    old = _closed(ReferralStatus.COMPLETED, LATER - dt.timedelta(days=365 * 20), "old")
    still_open = in_status(status, name="open")

    with pytest.raises(RetentionNotOver, match=r"they have 1 open referral$") as refused:
        check_erasable(SUBJECT, [old, still_open], LATER + dt.timedelta(days=365 * 30))

    assert refused.value.open_referrals == 1


def test_a_referral_closed_less_than_the_period_ago_keeps_the_person_until_it_ends() -> None:
    closed_at = dt.datetime(2026, 9, 14, 10, 0, tzinfo=dt.UTC)
    closed = _closed(ReferralStatus.COMPLETED, closed_at, "closed")
    until = dt.datetime(2031, 9, 14, 10, 0, tzinfo=dt.UTC)

    with pytest.raises(RetentionNotOver, match="until 2031-09-14T10:00:00") as refused:
        check_erasable(SUBJECT, [closed], until - dt.timedelta(seconds=1))

    assert refused.value.until == until
    assert refused.value.open_referrals == 0
    check_erasable(SUBJECT, [closed], until)


def test_the_last_closed_referral_decides_whatever_its_closing_status() -> None:
    referrals = [
        _closed(ReferralStatus.COMPLETED, dt.datetime(2020, 1, 1, tzinfo=dt.UTC), "a"),
        _closed(ReferralStatus.REJECTED, dt.datetime(2024, 6, 1, tzinfo=dt.UTC), "b"),
        _closed(ReferralStatus.WITHDRAWN, dt.datetime(2022, 1, 1, tzinfo=dt.UTC), "c"),
    ]

    assert retained_until(referrals) == dt.datetime(2029, 6, 1, tzinfo=dt.UTC)
    with pytest.raises(RetentionNotOver):
        check_erasable(SUBJECT, referrals, dt.datetime(2029, 5, 31, tzinfo=dt.UTC))
    check_erasable(SUBJECT, referrals, dt.datetime(2029, 6, 1, tzinfo=dt.UTC))


def test_a_leap_day_is_kept_until_the_first_of_march() -> None:
    leap_day = dt.datetime(2028, 2, 29, 12, 0, tzinfo=dt.UTC)

    assert years_after(leap_day, 5) == dt.datetime(2033, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert years_after(leap_day, 4) == dt.datetime(2032, 2, 29, 12, 0, tzinfo=dt.UTC)


def test_a_referral_of_another_person_is_a_mistake_not_a_reason() -> None:
    other = in_status(ReferralStatus.SUBMITTED, subject=MINOR, name="minor")

    with pytest.raises(ValueError, match="another person"):
        check_erasable(SUBJECT, [other], LATER)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        check_erasable(SUBJECT, [], dt.datetime(2030, 1, 1))


def test_the_refusal_names_the_person_by_id_only() -> None:
    closed = _closed(ReferralStatus.COMPLETED, LATER, "closed")

    with pytest.raises(RetentionNotOver) as refused:
        check_erasable(SUBJECT, [closed], LATER)

    assert str(SUBJECT) in str(refused.value)
    assert str(ADULT.birth_date) not in str(refused.value)
