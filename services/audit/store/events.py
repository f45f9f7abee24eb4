"""Reading rows of the log as they are (ids, codes, times, hashes), filtered, in sequence
order, a page at a time."""

import datetime as dt
import uuid
from dataclasses import dataclass

from services.plumbing.database import Connection


@dataclass(frozen=True)
class EventFilter:
    """Which rows: every one of them when nothing is set."""

    types: tuple[str, ...] = ()
    subject_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = None
    # The event's own time: from `since` (included) until `until` (excluded).
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(frozen=True)
class LogRow:
    """One row of the log, without its payload."""

    sequence: int
    entry_id: uuid.UUID
    event_id: uuid.UUID | None
    type: str | None
    event_time: dt.datetime | None
    subject_id: uuid.UUID | None
    organisation_ids: tuple[uuid.UUID, ...]
    source_topic: str
    dead_letter_reason: str | None
    payload_hash: bytes
    previous_hash: bytes
    row_hash: bytes
    recorded_at: dt.datetime


async def page(
    connection: Connection,
    *,
    county_number: str,
    where: EventFilter,
    after: int,
    limit: int,
) -> list[LogRow]:
    """The rows after sequence `after` that match, and that the county may see: those naming
    one of its organisations, and those naming no organisation and no person (records about
    the system, e.g. a dead letter that could not be decoded)."""
    rows = await connection.fetch(
        """SELECT sequence, entry_id, event_id, type, event_time, subject_id, organisation_ids,
                  source_topic, dead_letter ->> 'reason' AS dead_letter_reason,
                  payload_hash, previous_hash, row_hash, recorded_at
           FROM audit_log l
           WHERE sequence > $1
             AND (cardinality($2::text[]) = 0 OR type = ANY($2::text[]))
             AND ($3::uuid IS NULL OR subject_id = $3)
             AND ($4::uuid IS NULL OR organisation_ids @> ARRAY[$4::uuid])
             AND ($5::timestamptz IS NULL OR event_time >= $5)
             AND ($6::timestamptz IS NULL OR event_time < $6)
             AND (EXISTS (SELECT FROM directory_organisations o
                          WHERE o.organisation_id = ANY(l.organisation_ids)
                            AND o.county_number = $7)
                  OR (cardinality(l.organisation_ids) = 0 AND l.subject_id IS NULL))
           ORDER BY sequence
           LIMIT $8""",
        after,
        list(where.types),
        where.subject_id,
        where.organisation_id,
        where.since,
        where.until,
        county_number,
        limit,
    )
    return [
        LogRow(
            sequence=row["sequence"],
            entry_id=row["entry_id"],
            event_id=row["event_id"],
            type=row["type"],
            event_time=row["event_time"],
            subject_id=row["subject_id"],
            organisation_ids=tuple(row["organisation_ids"]),
            source_topic=row["source_topic"],
            dead_letter_reason=row["dead_letter_reason"],
            payload_hash=bytes(row["payload_hash"]),
            previous_hash=bytes(row["previous_hash"]),
            row_hash=bytes(row["row_hash"]),
            recorded_at=row["recorded_at"],
        )
        for row in rows
    ]
