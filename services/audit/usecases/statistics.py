"""Handoff statistics for the caller's county: the figures of a period (and, when asked, of
the period of equal length before it), read in one transaction so that both agree with the
same log. Aggregates only: no person's data is shown, so no read is recorded.

What they are read from, the referrals' steps with their times measured, the consumer keeps
up to date as it logs the steps (`count_steps`)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.audit.domain.handoffs import HandoffStep, remeasured
from services.audit.domain.statistics import Figures, GroupKey, Period, assemble
from services.audit.store import handoffs, statistics
from services.audit.usecases.recording import county_of_caller
from services.plumbing.auth import Principal
from services.plumbing.database import Connection


async def count_steps(connection: Connection, steps: Sequence[HandoffStep]) -> None:
    """Keep steps just logged for the statistics, in the caller's transaction (the one that
    logged them: appends are serialised by the chain head's lock, so no two batches measure
    the same referral at once), and measure again their referrals' earlier steps."""
    if not steps:
        return
    kept = await handoffs.steps_of(connection, {step.referral_id for step in steps})
    written = remeasured(kept, steps)
    logged_now = {step.sequence for step in steps}
    await handoffs.add(connection, [step for step in written if step.sequence in logged_now])
    await handoffs.set_times(
        connection, [step for step in written if step.sequence not in logged_now]
    )


@dataclass(frozen=True)
class PeriodFigures:
    period: Period
    groups: dict[GroupKey, Figures]


@dataclass(frozen=True)
class Statistics:
    county_number: str
    current: PeriodFigures
    previous: PeriodFigures | None


async def _figures(
    connection: Connection,
    county_number: str,
    period: Period,
    organisation_id: uuid.UUID | None,
    route: str | None,
) -> PeriodFigures:
    steps = await statistics.step_tallies(
        connection,
        county_number=county_number,
        period=period,
        organisation_id=organisation_id,
        route=route,
    )
    codes = await statistics.code_tallies(
        connection,
        county_number=county_number,
        period=period,
        organisation_id=organisation_id,
        route=route,
    )
    deadlines = await statistics.deadline_tallies(
        connection,
        county_number=county_number,
        period=period,
        organisation_id=organisation_id,
        route=route,
    )
    return PeriodFigures(period, assemble(steps, codes, deadlines))


async def read_statistics(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    period: Period,
    organisation_id: uuid.UUID | None,
    route: str | None,
    compare_previous: bool,
) -> Statistics:
    """The figures of the caller's county for `period` (and the one before, if asked)."""
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        county = await county_of_caller(connection, principal)
        current = await _figures(connection, county, period, organisation_id, route)
        previous = (
            await _figures(connection, county, period.previous(), organisation_id, route)
            if compare_previous
            else None
        )
        return Statistics(county, current, previous)
