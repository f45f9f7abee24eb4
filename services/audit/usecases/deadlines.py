"""Following referrals' deadlines: each referral step updates them in the consumer's
transaction (raising `met`, and `missed` for a step taken late); a scanner raises
`approaching` and `missed` as time passes; auditors list the open and missed ones.

Every notice is raised with its deadline's row locked, in the transaction that writes its
event to the outbox and marks it raised: each is raised once, however many instances run."""

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg

from schemas.deadlines import DeadlineKind
from schemas.directory import ServiceLevels
from schemas.envelope import CloudEvent
from schemas.ids import AgreementId, OrganisationId
from services.audit.domain.deadlines import (
    Deadline,
    Notice,
    Step,
    approaching_horizon,
    notice_event,
    notice_id,
    notices_due,
    raised,
    take_step,
    with_service_levels,
)
from services.audit.store import deadlines
from services.audit.store.deadlines import DeadlinePosition
from services.audit.usecases.recording import SOURCE, county_of_caller
from services.plumbing import outbox
from services.plumbing.auth import Principal
from services.plumbing.database import DATABASE_ERRORS, Connection
from services.plumbing.outbox import sleep_unless

log = logging.getLogger(__name__)


def _raise(
    deadline: Deadline,
    *,
    now: dt.datetime,
    approaching_working_days: int | None = None,
    grace: dt.timedelta = dt.timedelta(0),
) -> tuple[Deadline, list[CloudEvent]]:
    """The deadline once what is due of it is raised, and the events that raise it."""
    events = []
    for notice in notices_due(
        deadline, now=now, approaching_working_days=approaching_working_days, grace=grace
    ):
        data = notice_event(deadline, notice, now)
        events.append(
            CloudEvent.of(data, source=SOURCE, event_id=notice_id(deadline, notice), time=now)
        )
        deadline = raised(deadline, notice, now)
    return deadline, events


async def raise_due(
    connection: Connection,
    deadline: Deadline,
    *,
    topic: str,
    now: dt.datetime,
    approaching_working_days: int | None = None,
    grace: dt.timedelta = dt.timedelta(0),
) -> Deadline:
    """Raise what is due of a deadline locked in this transaction (not saved yet)."""
    deadline, events = _raise(
        deadline, now=now, approaching_working_days=approaching_working_days, grace=grace
    )
    await outbox.enqueue_all(connection, events, topic)
    return deadline


async def take_referral_steps(
    connection: Connection, steps: Sequence[Step], *, topic: str, now: dt.datetime
) -> None:
    """Meet, close and open the referrals' deadlines as the steps say, in their order, in
    the caller's transaction: the deadlines are read at once (locked), stepped in memory and
    written at once. A step of a referral whose filing was never seen changes nothing."""
    if not steps:
        return
    book = await deadlines.DeadlineBook.load(
        connection,
        [step.referral_id for step in steps],
        [step.agreement for step in steps if step.agreement is not None],
    )
    notices: list[CloudEvent] = []
    for step in steps:
        if step.agreement is not None:
            book.follow(step.referral_id, step.agreement, sender=step.sender)
        agreement = book.agreements.get(step.referral_id)
        if agreement is None:
            log.info(
                "referral %s: filing not seen; its deadlines are not followed", step.referral_id
            )
            continue
        for deadline in book.unended_of(step.referral_id):
            stepped = take_step(deadline, step)
            if stepped != deadline:
                stepped, raising = _raise(stepped, now=now)
                notices += raising
                book.update(stepped)
        for kind in step.opens:
            book.open(_opened(step, kind, agreement, book.levels.get(agreement)))
    await book.write(connection)
    await outbox.enqueue_all(connection, notices, topic)


def _opened(
    step: Step,
    kind: DeadlineKind,
    agreement: tuple[AgreementId, int],
    levels: ServiceLevels | None,
) -> Deadline:
    deadline = Deadline(
        referral_id=step.referral_id,
        kind=kind,
        occurrence=1,  # the store numbers it
        subject_id=step.subject_id,
        organisation_id=step.receiver,
        agreement_id=agreement[0],
        agreement_version=agreement[1],
        starts_at=step.at,
    )
    return with_service_levels(deadline, levels)


async def learn_service_levels(
    connection: Connection,
    agreement_id: AgreementId,
    version: int,
    levels: ServiceLevels,
    *,
    topic: str,
    now: dt.datetime,
) -> int:
    """Give the deadlines waiting for an agreement version's service levels their due time,
    raising what is then due of those already met or closed; how many got one. (Those still
    open are the scanner's: whether they are missed depends on the time it tells.)"""
    pending = await deadlines.lock_pending(connection, agreement_id, version)
    for deadline in pending:
        due = with_service_levels(deadline, levels)
        if due.ended_at is not None:
            due = await raise_due(connection, due, topic=topic, now=now)
        await deadlines.save(connection, due)
    return len(pending)


async def scan(
    pool: asyncpg.Pool,
    *,
    topic: str,
    now: dt.datetime,
    approaching_working_days: int,
    grace: dt.timedelta = dt.timedelta(0),
    batch_size: int = 200,
) -> dict[Notice, int]:
    """Raise `approaching` and `missed` for what is due at `now` (missed `grace` after the
    due time), a batch per transaction; how many of each were raised."""
    counts = dict.fromkeys(Notice, 0)
    horizon = approaching_horizon(now, approaching_working_days)
    while True:
        async with pool.acquire() as connection, connection.transaction():
            watched = await deadlines.lock_watched(
                connection, due_before=horizon, now=now, limit=batch_size
            )
            changed = 0
            for deadline in watched:
                notices = notices_due(
                    deadline,
                    now=now,
                    approaching_working_days=approaching_working_days,
                    grace=grace,
                )
                if not notices:
                    continue
                await deadlines.save(
                    connection,
                    await raise_due(
                        connection,
                        deadline,
                        topic=topic,
                        now=now,
                        approaching_working_days=approaching_working_days,
                        grace=grace,
                    ),
                )
                changed += 1
                for notice in notices:
                    counts[notice] += 1
        # Soonest due first: a full batch with nothing to raise means nothing later has (but
        # for deadlines within their grace, which may hold back later ones by that long).
        if len(watched) < batch_size or changed == 0:
            return counts


@dataclass(frozen=True)
class DeadlineScanning:
    """Where deadline notices go, how often the scanner looks, and how early a deadline
    counts as approaching."""

    topic: str
    interval_s: float
    approaching_working_days: int
    # Open deadlines are missed this long after their due time (consumers may lag).
    missed_grace_s: float = 0.0


async def run_deadline_scans(
    pool: asyncpg.Pool,
    stop: asyncio.Event,
    settings: DeadlineScanning,
    *,
    clock: Callable[[], dt.datetime],
) -> None:
    """Scan every `interval_s` until `stop`, once the database is migrated; a failed scan is
    logged and tried again at the next turn."""
    while not await sleep_unless(stop, settings.interval_s):
        try:
            async with pool.acquire() as connection:
                if not await deadlines.migrated(connection):
                    continue
            raised_now = await scan(
                pool,
                topic=settings.topic,
                now=clock(),
                approaching_working_days=settings.approaching_working_days,
                grace=dt.timedelta(seconds=settings.missed_grace_s),
            )
            if any(raised_now.values()):
                log.info(
                    "deadlines: %s",
                    ", ".join(f"{count} {notice}" for notice, count in raised_now.items()),
                )
        except DATABASE_ERRORS as error:
            log.warning("deadlines not scanned this turn (%s)", type(error).__name__)


async def read_deadlines(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    organisation_id: OrganisationId | None,
    open_: bool,
    missed: bool,
    after: DeadlinePosition | None,
    limit: int,
) -> list[Deadline]:
    """A page of the open and/or missed deadlines of the caller's county's organisations."""
    async with pool.acquire() as connection, connection.transaction():
        county = await county_of_caller(connection, principal)
        return await deadlines.page(
            connection,
            county_number=county,
            organisation_id=organisation_id,
            open_=open_,
            missed=missed,
            after=after,
            limit=limit,
        )
