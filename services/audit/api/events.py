"""`/v1/audit/events`: the rows of the audit log (ids, codes, times and hashes, never the
payload), filtered, in sequence order, for the caller's county."""

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field

from services.audit.api.deps import Auditor, Pool, only_query
from services.audit.domain.errors import InvalidRange
from services.audit.store.events import EventFilter, LogRow
from services.audit.usecases.events import list_events
from services.plumbing.pagination import (
    CursorParam,
    LimitParam,
    decode_cursor,
    encode_cursor,
    int_part,
)

router = APIRouter(prefix="/v1/audit", tags=["audit log"])
EVENT_QUERY = ("type", "subject_id", "organisation_id", "since", "until")


class EventRead(BaseModel):
    """One row of the audit log."""

    sequence: int = Field(description="its place in the chain")
    entry_id: uuid.UUID = Field(description="the row's id (the event id, or the dead letter's)")
    event_id: uuid.UUID | None = Field(description="the CloudEvents id, when known")
    type: str | None = Field(description="the CloudEvents type, when known")
    event_time: dt.datetime | None = Field(description="when the event was emitted")
    subject_id: uuid.UUID | None = Field(description="the person it is about, if any")
    organisation_ids: list[uuid.UUID] = Field(description="every organisation it names")
    source_topic: str = Field(description="the topic it came from")
    dead_letter_reason: str | None = Field(description="why it was dead-lettered, if it was")
    payload_hash: str = Field(description="SHA-256 of the event's canonical bytes (hex)")
    previous_hash: str = Field(description="the previous row's hash (hex)")
    row_hash: str = Field(description="this row's hash (hex)")
    recorded_at: dt.datetime = Field(description="when the audit service logged it")


class EventPage(BaseModel):
    items: list[EventRead]
    next_cursor: str | None = Field(description="for the next page; null on the last")


def event_fields(row: LogRow) -> dict[str, Any]:
    """A row as EventRead's fields, in JSON values (also what an export writes)."""
    return {
        "sequence": row.sequence,
        "entry_id": str(row.entry_id),
        "event_id": None if row.event_id is None else str(row.event_id),
        "type": row.type,
        "event_time": None if row.event_time is None else row.event_time.isoformat(),
        "subject_id": None if row.subject_id is None else str(row.subject_id),
        "organisation_ids": [str(organisation) for organisation in row.organisation_ids],
        "source_topic": row.source_topic,
        "dead_letter_reason": row.dead_letter_reason,
        "payload_hash": row.payload_hash.hex(),
        "previous_hash": row.previous_hash.hex(),
        "row_hash": row.row_hash.hex(),
        "recorded_at": row.recorded_at.isoformat(),
    }


EVENT_COLUMNS: tuple[str, ...] = tuple(EventRead.model_fields)

TypeParam = Annotated[
    list[Annotated[str, Field(max_length=200, pattern=r"^[a-z0-9_.]+$")]] | None,
    Query(
        alias="type",
        max_length=30,
        description="only rows of these CloudEvents types (repeat for several)",
    ),
]
SubjectParam = Annotated[uuid.UUID | None, Query(description="only rows about this person")]
OrganisationParam = Annotated[
    uuid.UUID | None, Query(description="only rows naming this organisation")
]
SinceParam = Annotated[
    AwareDatetime | None, Query(description="only events emitted at or after this time")
]
UntilParam = Annotated[AwareDatetime | None, Query(description="only events emitted before this")]


def event_filter(
    types: TypeParam = None,
    subject_id: SubjectParam = None,
    organisation_id: OrganisationParam = None,
    since: SinceParam = None,
    until: UntilParam = None,
) -> EventFilter:
    """The filter of the query; `since` must come before `until`."""
    if since is not None and until is not None and until <= since:
        raise InvalidRange("until", "`until` is not after `since`")
    return EventFilter(
        types=tuple(dict.fromkeys(types or ())),
        subject_id=subject_id,
        organisation_id=organisation_id,
        since=since,
        until=until,
    )


Filter = Annotated[EventFilter, Depends(event_filter)]


@router.get(
    "/events",
    response_model=EventPage,
    dependencies=[Depends(only_query(*EVENT_QUERY, "cursor", "limit"))],
    summary="the rows of the audit log",
)
async def list_log_events(
    pool: Pool,
    caller: Auditor,
    where: Filter,
    cursor: CursorParam = None,
    limit: LimitParam = 100,
) -> EventPage:
    """In sequence order: the rows naming an organisation of your county, and those naming no
    organisation and no person. Asking by `subject_id` is a read of that person's history and
    is recorded as an access event; otherwise rows show ids and codes only, and are not."""
    after = 0 if cursor is None else int_part(decode_cursor(cursor, 1)[0])
    rows = await list_events(
        pool,
        caller,
        where=where,
        after=after,
        limit=limit,
        now=dt.datetime.now(dt.UTC),
        new_id=uuid.uuid4,
    )
    return EventPage(
        items=[EventRead.model_validate(event_fields(row)) for row in rows],
        next_cursor=encode_cursor(str(rows[-1].sequence)) if len(rows) == limit else None,
    )
