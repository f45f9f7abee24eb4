"""Reading the log's rows (ids, codes, times, hashes), scoped to the caller's county. Rows
are not a person's data, except when asked for by person: then they are that person's
history, and the read is recorded like a timeline's."""

import datetime as dt

import asyncpg

from schemas.access import Resource
from services.audit.store import events
from services.audit.store.events import EventFilter, LogRow
from services.audit.usecases.recording import NewId, county_of_caller, record_read
from services.plumbing.auth import Principal


async def list_events(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    where: EventFilter,
    after: int,
    limit: int,
    now: dt.datetime,
    new_id: NewId,
) -> list[LogRow]:
    """A page of the rows that match, after sequence `after`."""
    async with pool.acquire() as connection, connection.transaction():
        county = await county_of_caller(connection, principal)
        rows = await events.page(
            connection, county_number=county, where=where, after=after, limit=limit
        )
        if rows and where.subject_id is not None:
            await record_read(
                connection,
                principal,
                where.subject_id,
                resource=Resource.TIMELINE,
                now=now,
                new_id=new_id,
            )
        return rows
