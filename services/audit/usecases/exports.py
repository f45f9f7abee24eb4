"""Exports: every row of a view (the log's rows, a timeline, the access log), streamed a page
at a time, never all of it in memory. The first page is read before anything is sent, so a
refusal (not in the directory, no timeline) is still an error response; each page that shows a
person's data records the read (resource export) in the page's own transaction, before the
page leaves."""

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import asyncpg

from schemas.access import Resource
from schemas.ids import SubjectId
from services.audit.domain.errors import NoTimeline
from services.audit.domain.timelines import TimelineItem
from services.audit.store import access, events, timelines
from services.audit.store.access import AccessPosition, AccessRecord
from services.audit.store.events import EventFilter, LogRow
from services.audit.store.timelines import TimelinePosition
from services.audit.usecases.recording import NewId, county_of_caller, record_read
from services.plumbing.auth import Principal

T = TypeVar("T")
PAGE = 1000


async def _stream(first: list[T], following: Callable[[T], Awaitable[list[T]]]) -> AsyncIterator[T]:
    page = first
    while True:
        for item in page:
            yield item
        if len(page) < PAGE:
            return
        page = await following(page[-1])


async def export_events(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    where: EventFilter,
    now: dt.datetime,
    new_id: NewId,
) -> AsyncIterator[LogRow]:
    """Every row that matches, in sequence order."""
    async with pool.acquire() as connection, connection.transaction():
        county = await county_of_caller(connection, principal)
        first = await events.page(
            connection, county_number=county, where=where, after=0, limit=PAGE
        )
        if first and where.subject_id is not None:
            await record_read(
                connection,
                principal,
                where.subject_id,
                resource=Resource.EXPORT,
                now=now,
                new_id=new_id,
            )

    async def following(last: LogRow) -> list[LogRow]:
        async with pool.acquire() as connection:
            return await events.page(
                connection, county_number=county, where=where, after=last.sequence, limit=PAGE
            )

    return _stream(first, following)


async def export_timeline(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    subject_id: SubjectId,
    now: dt.datetime,
    new_id: NewId,
) -> AsyncIterator[TimelineItem]:
    """The person's whole timeline, in order; NoTimeline when none of it is in the county."""
    async with pool.acquire() as connection, connection.transaction():
        county = await county_of_caller(connection, principal)
        first = await timelines.page(
            connection, subject_id=subject_id, county_number=county, after=None, limit=PAGE
        )
        if not first:
            raise NoTimeline
        await record_read(
            connection, principal, subject_id, resource=Resource.EXPORT, now=now, new_id=new_id
        )

    async def following(last: TimelineItem) -> list[TimelineItem]:
        async with pool.acquire() as connection:
            return await timelines.page(
                connection,
                subject_id=subject_id,
                county_number=county,
                after=TimelinePosition(last.time, last.sequence),
                limit=PAGE,
            )

    return _stream(first, following)


async def export_access_log(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    subject_id: SubjectId | None,
    now: dt.datetime,
    new_id: NewId,
) -> AsyncIterator[AccessRecord]:
    """The county's access log, newest first; each page records one read per person in it."""
    async with pool.acquire() as connection:
        county = await county_of_caller(connection, principal)

    async def page(after: AccessPosition | None) -> list[AccessRecord]:
        async with pool.acquire() as connection, connection.transaction():
            records = await access.page(
                connection,
                county_number=county,
                subject_id=subject_id,
                actor_id=None,
                after=after,
                limit=PAGE,
            )
            # Who read a person's data is itself about that person.
            for subject in dict.fromkeys(record.subject_id for record in records):
                await record_read(
                    connection,
                    principal,
                    subject,
                    resource=Resource.EXPORT,
                    now=now,
                    new_id=new_id,
                )
            return records

    async def following(last: AccessRecord) -> list[AccessRecord]:
        return await page(AccessPosition(last.occurred_at, last.access_id))

    return _stream(await page(None), following)
