"""Reading a person's consent ledger, scoped to the caller's county, recorded as a read of the
person's consents."""

import datetime as dt

import asyncpg

from schemas.access import Resource
from schemas.ids import SubjectId
from services.audit.domain.consents import Ledger, NoLedger, build_ledger
from services.audit.store import consents
from services.audit.usecases.recording import NewId, county_of_caller, record_read
from services.plumbing.auth import Principal


async def read_ledger(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    subject_id: SubjectId,
    now: dt.datetime,
    new_id: NewId,
) -> Ledger:
    """The person's ledger as the county may see it; NoLedger when it sees nothing."""
    async with pool.acquire() as connection, connection.transaction():
        county = await county_of_caller(connection, principal)
        events = await consents.ledger_events(
            connection, subject_id=subject_id, county_number=county
        )
        ledger = build_ledger(events)
        if ledger.empty:
            raise NoLedger
        await record_read(
            connection, principal, subject_id, resource=Resource.CONSENTS, now=now, new_id=new_id
        )
        return ledger
