"""Norwegian working days: Monday to Friday, less the public holidays of the `holidays`
package's Norwegian calendar (helligdagsloven and 1 and 17 May).

What counts as a day is the calendar day in Norway (Europe/Oslo), whatever the time zone of
the instant: a referral filed at 23:30 UTC on a Tuesday in summer was filed on the Wednesday.
Christmas Eve and New Year's Eve are working days: they are not public holidays.

Pure (no I/O, no clock): the referral service's and the audit service's domains both count
deadlines with it, so that they agree on every due date."""

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

OSLO = ZoneInfo("Europe/Oslo")


@lru_cache(maxsize=64)
def public_holidays(year: int) -> frozenset[dt.date]:
    """The Norwegian public holidays of a year."""
    return frozenset(holidays.country_holidays("NO", years=year))


def is_working_day(day: dt.date) -> bool:
    """A weekday that is not a public holiday."""
    return day.weekday() < 5 and day not in public_holidays(day.year)


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The n-th working day after `start` (the start day itself never counts); `start` for 0."""
    if n < 0:
        raise ValueError("n is negative")
    day = start
    for _ in range(n):
        day += dt.timedelta(days=1)
        while not is_working_day(day):
            day += dt.timedelta(days=1)
    return day


def subtract_working_days(start: dt.date, n: int) -> dt.date:
    """The n-th working day before `start` (the start day itself never counts); `start` for 0."""
    if n < 0:
        raise ValueError("n is negative")
    day = start
    for _ in range(n):
        day -= dt.timedelta(days=1)
        while not is_working_day(day):
            day -= dt.timedelta(days=1)
    return day


def oslo_date(at: dt.datetime) -> dt.date:
    """The calendar day in Norway at an instant."""
    if at.tzinfo is None:
        raise ValueError("a naive datetime has no place in time; pass an aware one")
    return at.astimezone(OSLO).date()


def end_of_day(day: dt.date) -> dt.datetime:
    """The instant a Norwegian calendar day ends (midnight in Oslo), in UTC."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=OSLO).astimezone(
        dt.UTC
    )
