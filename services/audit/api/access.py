"""`/v1/audit/access`: who read whose personal data, when and why, for the caller's county."""

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from schemas.access import AccessPurpose, Resource
from schemas.codes import Role
from schemas.ids import SubjectId
from services.audit.api.deps import Auditor, Pool, only_query
from services.audit.store.access import AccessPosition, AccessRecord
from services.audit.usecases.reading import read_access_log
from services.plumbing.pagination import (
    CursorParam,
    LimitParam,
    decode_cursor,
    encode_cursor,
    time_part,
    uuid_part,
)

router = APIRouter(prefix="/v1/audit", tags=["access log"])


class AccessRead(BaseModel):
    access_id: uuid.UUID
    sequence: int = Field(description="the access event's row in the audit log")
    actor_id: uuid.UUID = Field(description="who read, by opaque user id")
    actor_organisation_id: uuid.UUID = Field(description="for which organisation")
    actor_role: Role = Field(description="in which role")
    subject_id: uuid.UUID = Field(description="whose data")
    purpose: AccessPurpose = Field(description="why")
    resource: Resource = Field(description="what was read")
    referral_id: uuid.UUID | None = Field(description="the referral it was read for, if any")
    occurred_at: dt.datetime = Field(description="when")


class AccessPage(BaseModel):
    items: list[AccessRead]
    next_cursor: str | None = Field(description="for the next page; null on the last")


def _position(cursor: str | None) -> AccessPosition | None:
    if cursor is None:
        return None
    occurred_at, access_id = decode_cursor(cursor, 2)
    return AccessPosition(time_part(occurred_at), uuid_part(access_id))


def _read(record: AccessRecord) -> AccessRead:
    return AccessRead(
        access_id=record.access_id,
        sequence=record.sequence,
        actor_id=record.actor_id,
        actor_organisation_id=record.actor_organisation_id,
        actor_role=Role(record.actor_role),
        subject_id=record.subject_id,
        purpose=AccessPurpose(record.purpose),
        resource=Resource(record.resource),
        referral_id=record.referral_id,
        occurred_at=record.occurred_at,
    )


@router.get(
    "/access",
    response_model=AccessPage,
    dependencies=[Depends(only_query("subject_id", "actor_id", "cursor", "limit"))],
    summary="the access log",
)
async def access_log(
    pool: Pool,
    caller: Auditor,
    subject_id: Annotated[uuid.UUID | None, Query(description="only reads of this person")] = None,
    actor_id: Annotated[uuid.UUID | None, Query(description="only reads by this user")] = None,
    cursor: CursorParam = None,
    limit: LimitParam = 100,
) -> AccessPage:
    """Newest first. Reading it is recorded too: one access event per person shown."""
    records = await read_access_log(
        pool,
        caller,
        subject_id=None if subject_id is None else SubjectId(subject_id),
        actor_id=actor_id,
        after=_position(cursor),
        limit=limit,
        now=dt.datetime.now(dt.UTC),
        new_id=uuid.uuid4,
    )
    last = records[-1] if len(records) == limit else None
    return AccessPage(
        items=[_read(record) for record in records],
        next_cursor=None
        if last is None
        else encode_cursor(last.occurred_at.isoformat(), str(last.access_id)),
    )
