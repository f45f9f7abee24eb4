"""Handoff statistics for the quality framework: what a period's referral steps and deadlines
add up to, per route, per receiving organisation and for the whole county.

What is counted (each step and its times are kept as the consumer logs it, by the rules of
services/audit/domain/handoffs.py; services/audit/store/statistics.py sums a period's):

- a period is whole days in Oslo, `from` to `to` inclusive; a step counts in the period its
  `occurred_at` falls in, a deadline in the period its due time falls in;
- every figure belongs to the receiving organisation of the step (a redirect to the one that
  sent it on) and to the route from the sender's organisation type to the receiver's;
- times are the intervals the service levels govern, in hours: to receive, from the referral
  reaching the receiver (filed or redirected to it) to its acknowledgement; to decide, from
  the acknowledgement to acceptance or rejection; to first contact, from acceptance to the
  first contact that reached the person;
- followed up in time: deadlines due in the period that were met by their due time and never
  raised as missed, over all deadlines due in the period (those closed unmet before they fell
  due, e.g. by a withdrawal, stopped being due and are left out)."""

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from zoneinfo import ZoneInfo

from schemas.codes import OrganisationType
from schemas.referrals import Outcome, RejectionReason
from services.audit.domain.errors import InvalidRange

OSLO = ZoneInfo("Europe/Oslo")
# Five years of days, leap days included.
MAX_PERIOD_DAYS = 5 * 365 + 2
# Days outside these are typing errors (and a period and the one before it must stay within
# what dates can hold).
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2199, 12, 31)
ROUTE_SEPARATOR = "->"


def route_of(sender: OrganisationType | str, receiver: OrganisationType | str) -> str:
    """A route as the statistics name it: the sender's type, `->`, the receiver's type."""
    return f"{sender}{ROUTE_SEPARATOR}{receiver}"


def parse_route(route: str) -> str:
    """A route query value, checked: two organisation types joined by `->`."""
    sender, separator, receiver = route.partition(ROUTE_SEPARATOR)
    types = {kind.value for kind in OrganisationType}
    if not separator or sender not in types or receiver not in types:
        raise InvalidRange("route", "`route` is two organisation types joined by `->`")
    return route


@dataclass(frozen=True)
class Period:
    """Whole days in Oslo, `first` to `last` inclusive."""

    first: dt.date
    last: dt.date

    @classmethod
    def of(cls, first: dt.date, last: dt.date) -> "Period":
        """The period from `first` to `last`; InvalidRange when it is empty or too long."""
        if first < FIRST_DAY or first > LAST_DAY:
            raise InvalidRange("from", f"`from` is a day from {FIRST_DAY} to {LAST_DAY}")
        if last > LAST_DAY:
            raise InvalidRange("to", f"`to` is a day up to {LAST_DAY}")
        if last < first:
            raise InvalidRange("to", "`to` is before `from`")
        if (last - first).days + 1 > MAX_PERIOD_DAYS:
            raise InvalidRange("to", "a period is at most five years")
        return cls(first, last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def starts_at(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time.min, OSLO)

    @property
    def ends_at(self) -> dt.datetime:
        """The start of the day after the last (exclusive)."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time.min, OSLO)

    def previous(self) -> "Period":
        """The period of equal length just before this one."""
        length = dt.timedelta(days=self.days)
        return Period(self.first - length, self.last - length)


class Level(StrEnum):
    """What a group of figures adds up."""

    COUNTY = "county"
    ROUTE = "route"
    ORGANISATION = "organisation"


@dataclass(frozen=True)
class GroupKey:
    level: Level
    route: str | None = None
    organisation_id: uuid.UUID | None = None

    def sort_key(self) -> tuple[int, str, str]:
        order = list(Level).index(self.level)
        return (order, self.route or "", str(self.organisation_id or ""))


@dataclass(frozen=True)
class Spread:
    """The median and 90th percentile of some times in hours (None with no times), and how
    many times there were."""

    median: float | None = None
    p90: float | None = None
    count: int = 0


@dataclass(frozen=True)
class StepTally:
    """The steps of one group in one period (a row of the store's first query)."""

    key: GroupKey
    filed: int = 0
    accepted: int = 0
    rejected: int = 0
    redirected: int = 0
    completed: int = 0
    to_receive: Spread = Spread()
    to_decide: Spread = Spread()
    to_first_contact: Spread = Spread()


@dataclass(frozen=True)
class CodeTally:
    """How many rejections (by reason) or completions (by outcome) one group had."""

    key: GroupKey
    step: str  # "rejected" or "completed"
    code: str
    count: int


@dataclass(frozen=True)
class DeadlineTally:
    """The deadlines of one group due in one period, and how many were met in time."""

    key: GroupKey
    due: int
    met_in_time: int


@dataclass(frozen=True)
class Figures:
    """Everything the statistics say about one group in one period."""

    filed: int = 0
    accepted: int = 0
    rejected: int = 0
    rejected_by_reason: Mapping[str, int] = field(
        default_factory=lambda: dict.fromkeys((r.value for r in RejectionReason), 0)
    )
    redirected: int = 0
    completed: int = 0
    completed_by_outcome: Mapping[str, int] = field(
        default_factory=lambda: dict.fromkeys((o.value for o in Outcome), 0)
    )
    hours_to_receive: Spread = Spread()
    hours_to_decide: Spread = Spread()
    hours_to_first_contact: Spread = Spread()
    deadlines_due: int = 0
    deadlines_met_in_time: int = 0

    @property
    def share_in_time(self) -> float | None:
        """Deadlines met in time over those due; None when none were due."""
        if self.deadlines_due == 0:
            return None
        return round(self.deadlines_met_in_time / self.deadlines_due, 4)


def _hours(value: float | None) -> float | None:
    # Percentiles interpolate in floating point: 5.3999999999999995 reads as 5.4.
    return None if value is None else round(value, 3)


def _spread(spread: Spread) -> Spread:
    return Spread(_hours(spread.median), _hours(spread.p90), spread.count)


def assemble(
    steps: Iterable[StepTally], codes: Iterable[CodeTally], deadlines: Iterable[DeadlineTally]
) -> dict[GroupKey, Figures]:
    """The figures of every group the tallies name, and of the county (always there)."""
    figures: dict[GroupKey, Figures] = {GroupKey(Level.COUNTY): Figures()}
    for step in steps:
        figures[step.key] = replace(
            figures.get(step.key, Figures()),
            filed=step.filed,
            accepted=step.accepted,
            rejected=step.rejected,
            redirected=step.redirected,
            completed=step.completed,
            hours_to_receive=_spread(step.to_receive),
            hours_to_decide=_spread(step.to_decide),
            hours_to_first_contact=_spread(step.to_first_contact),
        )
    for code in codes:
        found = figures.get(code.key, Figures())
        if code.step == "rejected":
            by_reason = dict(found.rejected_by_reason) | {code.code: code.count}
            figures[code.key] = replace(found, rejected_by_reason=by_reason)
        elif code.step == "completed":
            by_outcome = dict(found.completed_by_outcome) | {code.code: code.count}
            figures[code.key] = replace(found, completed_by_outcome=by_outcome)
    for deadline in deadlines:
        figures[deadline.key] = replace(
            figures.get(deadline.key, Figures()),
            deadlines_due=deadline.due,
            deadlines_met_in_time=deadline.met_in_time,
        )
    return dict(sorted(figures.items(), key=lambda item: item[0].sort_key()))


def figures_fields(figures: Figures) -> dict[str, object]:
    """The figures as JSON values (what the API answers)."""

    def spread(value: Spread) -> dict[str, object]:
        return {"median": value.median, "p90": value.p90, "count": value.count}

    return {
        "filed": figures.filed,
        "accepted": figures.accepted,
        "rejected": figures.rejected,
        "rejected_by_reason": dict(figures.rejected_by_reason),
        "redirected": figures.redirected,
        "completed": figures.completed,
        "completed_by_outcome": dict(figures.completed_by_outcome),
        "hours_to_receive": spread(figures.hours_to_receive),
        "hours_to_decide": spread(figures.hours_to_decide),
        "hours_to_first_contact": spread(figures.hours_to_first_contact),
        "deadlines_due": figures.deadlines_due,
        "deadlines_met_in_time": figures.deadlines_met_in_time,
        "share_in_time": figures.share_in_time,
    }


def measures(figures: Figures) -> list[tuple[str, str, int | float | None]]:
    """The figures as (measure, code, value) rows: one a measure, and one a code of the coded
    ones (code empty otherwise). The CSV is these rows, per group and period."""
    rows: list[tuple[str, str, int | float | None]] = [
        ("filed", "", figures.filed),
        ("accepted", "", figures.accepted),
        ("rejected", "", figures.rejected),
    ]
    rows += [("rejected", code, count) for code, count in figures.rejected_by_reason.items()]
    rows += [("redirected", "", figures.redirected), ("completed", "", figures.completed)]
    rows += [("completed", code, count) for code, count in figures.completed_by_outcome.items()]
    for name, spread in (
        ("hours_to_receive", figures.hours_to_receive),
        ("hours_to_decide", figures.hours_to_decide),
        ("hours_to_first_contact", figures.hours_to_first_contact),
    ):
        rows += [
            (f"{name}_median", "", spread.median),
            (f"{name}_p90", "", spread.p90),
            (f"{name}_count", "", spread.count),
        ]
    rows += [
        ("deadlines_due", "", figures.deadlines_due),
        ("deadlines_met_in_time", "", figures.deadlines_met_in_time),
        ("share_in_time", "", figures.share_in_time),
    ]
    return rows
