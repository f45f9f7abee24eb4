"""What every auditor's read does first and last: find the caller's county (the scope of what
they see), and record a read of a person's data as an access event (purpose audit), in the
read's own transaction, so that no read goes unrecorded."""

import datetime as dt
import uuid
from collections.abc import Callable

from schemas.access import AccessPurpose, PersonalDataAccessedV1, Resource
from schemas.actors import Actor
from schemas.codes import Role
from schemas.envelope import CloudEvent
from schemas.ids import AccessId, SubjectId
from services.audit.domain.errors import NotInDirectory
from services.audit.store import directory
from services.plumbing import outbox
from services.plumbing.auth import Principal
from services.plumbing.database import Connection

SOURCE = "/overgang/audit"
NewId = Callable[[], uuid.UUID]


async def county_of_caller(connection: Connection, principal: Principal) -> str:
    """The county the caller's organisation belongs to; NotInDirectory when unknown."""
    county = await directory.county_of(connection, principal.organisation_id)
    if county is None:
        raise NotInDirectory
    return county


async def record_read(
    connection: Connection,
    principal: Principal,
    subject_id: uuid.UUID,
    *,
    resource: Resource,
    now: dt.datetime,
    new_id: NewId,
) -> None:
    """Write the access event of one read of one person's data to the outbox."""
    role = Role.AUDITOR if Role.AUDITOR in principal.roles else Role.ADMIN
    data = PersonalDataAccessedV1(
        access_id=AccessId(new_id()),
        actor=Actor(
            actor_id=principal.actor_id, organisation_id=principal.organisation_id, role=role
        ),
        subject_id=SubjectId(subject_id),
        purpose=AccessPurpose.AUDIT,
        resource=resource,
        occurred_at=now,
    )
    event = CloudEvent.of(data, source=SOURCE, event_id=new_id(), time=now)
    await outbox.enqueue(connection, event, data.topic.name)
