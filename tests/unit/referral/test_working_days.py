"""Norwegian working days, on the calendar day in Oslo."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.plumbing.working_days import end_of_day, oslo_date
from services.referral.domain.deadlines import add_working_days, is_working_day

D = dt.date


@pytest.mark.parametrize(
    "holiday",
    [
        D(2026, 1, 1),  # New Year's Day
        D(2026, 4, 2),  # Maundy Thursday
        D(2026, 4, 3),  # Good Friday
        D(2026, 4, 6),  # Easter Monday
        D(2026, 5, 1),  # Labour Day
        D(2026, 5, 14),  # Ascension Day
        D(2026, 5, 25),  # Whit Monday
        D(2026, 12, 25),  # Christmas Day
        D(2027, 5, 17),  # Constitution Day and Whit Monday at once
        D(2028, 5, 17),  # Constitution Day on a Wednesday
        D(2028, 12, 26),  # Boxing Day on a Tuesday
    ],
)
def test_a_public_holiday_is_not_a_working_day(holiday: dt.date) -> None:
    assert not is_working_day(holiday)


@pytest.mark.parametrize(
    "day",
    [
        D(2026, 4, 1),  # Wednesday before Easter
        D(2026, 4, 7),  # Tuesday after Easter Monday
        D(2026, 5, 15),  # Friday after Ascension Day
        D(2026, 5, 26),  # Tuesday after Whit Monday
        D(2026, 12, 24),  # Christmas Eve is not a public holiday
        D(2026, 12, 31),  # nor New Year's Eve
    ],
)
def test_a_weekday_that_is_no_public_holiday_is_a_working_day(day: dt.date) -> None:
    assert is_working_day(day)


def test_weekends_are_not_working_days() -> None:
    assert not is_working_day(D(2026, 9, 12))
    assert not is_working_day(D(2026, 9, 13))


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        (D(2026, 9, 14), 1, D(2026, 9, 15)),  # an ordinary Monday
        (D(2026, 9, 11), 1, D(2026, 9, 14)),  # Friday to Monday
        (D(2026, 9, 12), 1, D(2026, 9, 14)),  # from a Saturday
        (D(2026, 3, 31), 2, D(2026, 4, 7)),  # across Easter
        (D(2026, 4, 1), 1, D(2026, 4, 7)),
        (D(2026, 4, 30), 1, D(2026, 5, 4)),  # across 1 May
        (D(2026, 5, 13), 1, D(2026, 5, 15)),  # across Ascension Day
        (D(2026, 5, 11), 10, D(2026, 5, 27)),  # across Ascension Day and Whit Monday
        (D(2027, 5, 14), 1, D(2027, 5, 18)),  # across 17 May 2027
        (D(2028, 5, 16), 1, D(2028, 5, 18)),  # across 17 May 2028
        (D(2026, 12, 23), 3, D(2026, 12, 29)),  # across Christmas
        (D(2026, 12, 31), 1, D(2027, 1, 4)),  # across New Year
        (D(2026, 9, 14), 0, D(2026, 9, 14)),
    ],
)
def test_adding_working_days_skips_weekends_and_holidays(
    start: dt.date, n: int, due: dt.date
) -> None:
    assert add_working_days(start, n) == due


def test_adding_a_negative_number_of_working_days_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_working_days(D(2026, 9, 14), -1)


@given(
    start=st.dates(min_value=D(2020, 1, 1), max_value=D(2040, 12, 31)),
    n=st.integers(min_value=1, max_value=60),
)
def test_the_n_th_working_day_is_one_with_exactly_n_working_days_up_to_it(
    start: dt.date, n: int
) -> None:
    due = add_working_days(start, n)

    days = [start + dt.timedelta(days=i) for i in range(1, (due - start).days + 1)]
    assert is_working_day(due)
    assert sum(is_working_day(day) for day in days) == n


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        (dt.datetime(2026, 3, 28, 22, 59, tzinfo=dt.UTC), D(2026, 3, 28)),  # 23:59 CET
        (dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC), D(2026, 3, 29)),  # 00:30 CET
        (dt.datetime(2026, 6, 30, 21, 59, tzinfo=dt.UTC), D(2026, 6, 30)),  # 23:59 CEST
        (dt.datetime(2026, 6, 30, 22, 0, tzinfo=dt.UTC), D(2026, 7, 1)),  # midnight CEST
    ],
)
def test_the_day_is_the_calendar_day_in_oslo(instant: dt.datetime, day: dt.date) -> None:
    assert oslo_date(instant) == day


def test_a_naive_time_has_no_day() -> None:
    with pytest.raises(ValueError, match="naive"):
        oslo_date(dt.datetime(2026, 6, 30, 12))


@pytest.mark.parametrize(
    ("day", "ends"),
    [
        (D(2026, 5, 14), dt.datetime(2026, 5, 14, 22, tzinfo=dt.UTC)),  # summer time
        (D(2026, 12, 24), dt.datetime(2026, 12, 24, 23, tzinfo=dt.UTC)),  # winter time
        (D(2026, 3, 28), dt.datetime(2026, 3, 28, 23, tzinfo=dt.UTC)),  # the night clocks go on
        (D(2026, 3, 29), dt.datetime(2026, 3, 29, 22, tzinfo=dt.UTC)),  # a 23-hour day
    ],
)
def test_a_day_ends_at_midnight_in_oslo(day: dt.date, ends: dt.datetime) -> None:
    assert end_of_day(day) == ends
