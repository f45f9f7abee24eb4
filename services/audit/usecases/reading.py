"""Auditors' reads: a person's timeline and the access log, scoped to the county of the
caller's organisation. Every read of what concerns a person is itself recorded as an access
event (purpose `audit`), written to the outbox in the read's own transaction: no read goes
unrecorded, and once consumed it shows in the access log like any other."""

import datetime as dt
import uuid
from collections.abc import Callable

import asyncpg

from schemas.access import AccessPurpose, PersonalDataAccessedV1, Resource
from schemas.actors import Actor
from schemas.codes import Role
from schemas.envelope import CloudEvent
from schemas.ids import AccessId, SubjectId
from services.audit.domain.errors import NoTimeline, NotInDirectory
from services.audit.domain.timelines import TimelineItem
from services.audit.store import access, directory, timelines
from services.audit.store.access import AccessPosition, AccessRecord
from services.audit.store.timelines import TimelinePosition
from services.plumbing import outbox
from services.plumbing.auth import Principal
from services.plumbing.database import Connection

SOURCE = "/overgang/audit"
NewId = Callable[[], uuid.UUID]


async def read_timeline(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    subject_id: SubjectId,
    after: TimelinePosition | None,
    limit: int,
    now: dt.datetime,
    new_id: NewId,
) -> list[TimelineItem]:
    """A page of the person's timeline; NoTimeline when nothing of it is in the county."""
    async with pool.acquire() as connection, connection.transaction():
        county = await _county(connection, principal)
        items = await timelines.page(
            connection, subject_id=subject_id, county_number=county, after=after, limit=limit
        )
        if not items and after is None:
            raise NoTimeline
        if items:
            await _record_read(connection, principal, subject_id, now=now, new_id=new_id)
        return items


async def read_access_log(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    subject_id: SubjectId | None,
    actor_id: uuid.UUID | None,
    after: AccessPosition | None,
    limit: int,
    now: dt.datetime,
    new_id: NewId,
) -> list[AccessRecord]:
    """A page of the reads made by users of the county's organisations, newest first."""
    async with pool.acquire() as connection, connection.transaction():
        county = await _county(connection, principal)
        records = await access.page(
            connection,
            county_number=county,
            subject_id=subject_id,
            actor_id=actor_id,
            after=after,
            limit=limit,
        )
        # Who read a person's data is itself about that person: one record per person shown.
        for subject in dict.fromkeys(record.subject_id for record in records):
            await _record_read(connection, principal, SubjectId(subject), now=now, new_id=new_id)
        return records


async def _county(connection: Connection, principal: Principal) -> str:
    county = await directory.county_of(connection, principal.organisation_id)
    if county is None:
        raise NotInDirectory
    return county


async def _record_read(
    connection: Connection,
    principal: Principal,
    subject_id: SubjectId,
    *,
    now: dt.datetime,
    new_id: NewId,
) -> None:
    role = Role.AUDITOR if Role.AUDITOR in principal.roles else Role.ADMIN
    data = PersonalDataAccessedV1(
        access_id=AccessId(new_id()),
        actor=Actor(
            actor_id=principal.actor_id, organisation_id=principal.organisation_id, role=role
        ),
        subject_id=subject_id,
        purpose=AccessPurpose.AUDIT,
        # The contract has no resource for the access log yet; it is part of the person's
        # audit history, which the timeline is.
        resource=Resource.TIMELINE,
        occurred_at=now,
    )
    event = CloudEvent.of(data, source=SOURCE, event_id=new_id(), time=now)
    await outbox.enqueue(connection, event, data.topic.name)
