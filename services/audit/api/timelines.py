"""`/v1/audit/timelines/{subject_id}`: every referral, consent, deadline and milestone of a
person that involves the caller's county, in order."""

import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from schemas.ids import SubjectId
from services.audit.api.deps import Auditor, Pool, only_query
from services.audit.domain.timelines import Kind, TimelineItem
from services.audit.store.timelines import TimelinePosition
from services.audit.usecases.reading import read_timeline
from services.plumbing.pagination import (
    CursorParam,
    LimitParam,
    decode_cursor,
    encode_cursor,
    int_part,
    time_part,
)

router = APIRouter(prefix="/v1/audit", tags=["timelines"])


class TimelineItemRead(BaseModel):
    sequence: int = Field(description="the event's row in the audit log")
    event_id: uuid.UUID
    type: str = Field(description="the event's CloudEvents type")
    kind: Kind = Field(description="what the item is about")
    step: str = Field(description="what happened, e.g. accepted")
    time: dt.datetime = Field(description="when the event was emitted")
    organisation_ids: list[uuid.UUID] = Field(description="the organisations involved")
    data: dict[str, Any] = Field(description="the event's data (ids and codes only)")


class TimelinePage(BaseModel):
    subject_id: uuid.UUID
    items: list[TimelineItemRead]
    next_cursor: str | None = Field(description="for the next page; null on the last")


def _position(cursor: str | None) -> TimelinePosition | None:
    if cursor is None:
        return None
    time, sequence = decode_cursor(cursor, 2)
    return TimelinePosition(time_part(time), int_part(sequence))


def _read(item: TimelineItem) -> TimelineItemRead:
    return TimelineItemRead(
        sequence=item.sequence,
        event_id=item.event_id,
        type=item.type,
        kind=item.kind,
        step=item.step,
        time=item.time,
        organisation_ids=list(item.organisation_ids),
        data=item.data,
    )


@router.get(
    "/timelines/{subject_id}",
    response_model=TimelinePage,
    dependencies=[Depends(only_query("cursor", "limit"))],
    summary="a person's timeline",
)
async def timeline(
    subject_id: uuid.UUID,
    pool: Pool,
    caller: Auditor,
    cursor: CursorParam = None,
    limit: LimitParam = 100,
) -> TimelinePage:
    """Reading it is recorded as an access event (purpose audit)."""
    items = await read_timeline(
        pool,
        caller,
        subject_id=SubjectId(subject_id),
        after=_position(cursor),
        limit=limit,
        now=dt.datetime.now(dt.UTC),
        new_id=uuid.uuid4,
    )
    last = items[-1] if len(items) == limit else None
    return TimelinePage(
        subject_id=subject_id,
        items=[_read(item) for item in items],
        next_cursor=None
        if last is None
        else encode_cursor(last.time.isoformat(), str(last.sequence)),
    )
