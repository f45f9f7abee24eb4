"""Exports of the log's rows, of a person's timeline and of the access log, as CSV or JSON
(`format=csv|json`, or `Accept: text/csv` / `application/json`), streamed: the rows are read
and sent a page at a time. Exports that show a person's data are recorded as reads."""

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from schemas.ids import SubjectId
from services.audit.api.deps import Auditor, Pool, only_query
from services.audit.api.events import EVENT_COLUMNS, EVENT_QUERY, Filter, event_fields
from services.audit.domain.timelines import TimelineItem
from services.audit.store.access import AccessRecord
from services.audit.usecases.exports import export_access_log, export_events, export_timeline

router = APIRouter(prefix="/v1/audit/exports", tags=["exports"])
T = TypeVar("T")
# Rows per chunk written to the socket.
_CHUNK = 500


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


_MEDIA = {ExportFormat.CSV: "text/csv", ExportFormat.JSON: "application/json"}


def _quality(accept: str, media: str) -> tuple[float, int]:
    """How much `accept` wants `media`: the q of its most specific matching range, and how
    specific that range was (2 exact, 1 `type/*`, 0 `*/*`); (0, -1) when none matches."""
    kind = media.split("/")[0]
    best: tuple[float, int] = (0.0, -1)
    for part in accept.split(","):
        fields = [field.strip() for field in part.split(";")]
        media_range = fields[0].lower()
        specificity = {media: 2, f"{kind}/*": 1, "*/*": 0}.get(media_range)
        if specificity is None:
            continue
        quality = 1.0
        for parameter in fields[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if specificity > best[1]:
            best = (quality, specificity)
    return best


def export_format(
    request: Request,
    format_: Annotated[
        ExportFormat | None,
        Query(alias="format", description="csv or json; otherwise the Accept header decides"),
    ] = None,
) -> ExportFormat:
    """`format`, else the Accept header (JSON when it says nothing or anything goes)."""
    if format_ is not None:
        return format_
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return ExportFormat.JSON
    csv_wanted, json_wanted = _quality(accept, "text/csv"), _quality(accept, "application/json")
    if csv_wanted[0] <= 0 and json_wanted[0] <= 0:
        raise HTTPException(406, "exports are text/csv or application/json")
    return ExportFormat.CSV if csv_wanted > json_wanted else ExportFormat.JSON


Format = Annotated[ExportFormat, Depends(export_format)]


def _cell(value: Any) -> str:
    """A JSON value as a CSV cell: lists space-separated, objects as JSON, null empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


async def _csv(columns: Iterable[str], rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = list(columns)
    writer.writerow(header)
    written = 0
    async for row in rows:
        writer.writerow([_cell(row[column]) for column in header])
        written += 1
        if written % _CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


async def _json(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    """A JSON array, one object a line."""
    chunk = ["["]
    separator = "\n"
    async for row in rows:
        chunk.append(separator + json.dumps(row, ensure_ascii=False))
        separator = ",\n"
        if len(chunk) >= _CHUNK:
            yield "".join(chunk)
            chunk = []
    chunk.append("\n]\n")
    yield "".join(chunk)


async def _fields(
    items: AsyncIterator[T], fields: Callable[[T], dict[str, Any]]
) -> AsyncIterator[dict[str, Any]]:
    async for item in items:
        yield fields(item)


def _response(
    rows: AsyncIterator[dict[str, Any]],
    columns: Iterable[str],
    format_: ExportFormat,
    name: str,
) -> StreamingResponse:
    body = _csv(columns, rows) if format_ is ExportFormat.CSV else _json(rows)
    return StreamingResponse(
        body,
        media_type=_MEDIA[format_],
        headers={"Content-Disposition": f'attachment; filename="{name}.{format_.value}"'},
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@router.get(
    "/events",
    summary="export the rows of the audit log",
    dependencies=[Depends(only_query(*EVENT_QUERY, "format"))],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
async def export_log_events(
    pool: Pool, caller: Auditor, where: Filter, format_: Format
) -> StreamingResponse:
    """Every row `/v1/audit/events` would page through, with the same filters and fields.
    Filtered by `subject_id`, it is recorded as an export of that person's data."""
    rows = await export_events(pool, caller, where=where, now=_now(), new_id=uuid.uuid4)
    return _response(_fields(rows, event_fields), EVENT_COLUMNS, format_, "audit-events")


TIMELINE_COLUMNS = (
    "subject_id",
    "sequence",
    "event_id",
    "type",
    "kind",
    "step",
    "time",
    "organisation_ids",
    "data",
)


def timeline_fields(subject_id: uuid.UUID) -> Callable[[TimelineItem], dict[str, Any]]:
    def fields(item: TimelineItem) -> dict[str, Any]:
        return {
            "subject_id": str(subject_id),
            "sequence": item.sequence,
            "event_id": str(item.event_id),
            "type": item.type,
            "kind": item.kind.value,
            "step": item.step,
            "time": item.time.isoformat(),
            "organisation_ids": [str(organisation) for organisation in item.organisation_ids],
            "data": item.data,
        }

    return fields


@router.get(
    "/timelines/{subject_id}",
    summary="export a person's timeline",
    dependencies=[Depends(only_query("format"))],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
async def export_person_timeline(
    subject_id: uuid.UUID, pool: Pool, caller: Auditor, format_: Format
) -> StreamingResponse:
    """The whole timeline, in order; recorded as an export of the person's data."""
    items = await export_timeline(
        pool, caller, subject_id=SubjectId(subject_id), now=_now(), new_id=uuid.uuid4
    )
    return _response(
        _fields(items, timeline_fields(subject_id)),
        TIMELINE_COLUMNS,
        format_,
        f"timeline-{subject_id}",
    )


ACCESS_COLUMNS = (
    "access_id",
    "sequence",
    "actor_id",
    "actor_organisation_id",
    "actor_role",
    "subject_id",
    "purpose",
    "resource",
    "referral_id",
    "occurred_at",
)


def access_fields(record: AccessRecord) -> dict[str, Any]:
    return {
        "access_id": str(record.access_id),
        "sequence": record.sequence,
        "actor_id": str(record.actor_id),
        "actor_organisation_id": str(record.actor_organisation_id),
        "actor_role": record.actor_role,
        "subject_id": str(record.subject_id),
        "purpose": record.purpose,
        "resource": record.resource,
        "referral_id": None if record.referral_id is None else str(record.referral_id),
        "occurred_at": record.occurred_at.isoformat(),
    }


@router.get(
    "/access",
    summary="export the access log",
    dependencies=[Depends(only_query("subject_id", "format"))],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
async def export_access(
    pool: Pool,
    caller: Auditor,
    format_: Format,
    subject_id: Annotated[uuid.UUID | None, Query(description="only reads of this person")] = None,
) -> StreamingResponse:
    """Newest first; recorded as one export per person shown."""
    records = await export_access_log(
        pool,
        caller,
        subject_id=None if subject_id is None else SubjectId(subject_id),
        now=_now(),
        new_id=uuid.uuid4,
    )
    return _response(_fields(records, access_fields), ACCESS_COLUMNS, format_, "access-log")
