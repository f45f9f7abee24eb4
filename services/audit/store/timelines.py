"""Reading a person's timeline out of the log."""

import datetime as dt
import json
import uuid
from dataclasses import dataclass

from services.audit.domain.timelines import TIMELINE_TYPES, TimelineItem
from services.plumbing.database import Connection


@dataclass(frozen=True)
class TimelinePosition:
    """Where a page of a timeline ends (oldest first)."""

    time: dt.datetime
    sequence: int


async def page(
    connection: Connection,
    *,
    subject_id: uuid.UUID,
    county_number: str,
    after: TimelinePosition | None,
    limit: int,
) -> list[TimelineItem]:
    """The person's events that involve an organisation of the county, in order, after
    `after`. Dead-lettered records are not part of a timeline (they are in the log)."""
    rows = await connection.fetch(
        """SELECT sequence, event_id, type, event_time, organisation_ids, payload
           FROM audit_log l
           WHERE subject_id = $1
             AND dead_letter IS NULL
             AND type = ANY($2::text[])
             AND EXISTS (SELECT FROM directory_organisations o
                         WHERE o.organisation_id = ANY(l.organisation_ids)
                           AND o.county_number = $3)
             AND ($4::timestamptz IS NULL OR (event_time, sequence) > ($4, $5::bigint))
           ORDER BY event_time, sequence
           LIMIT $6""",
        subject_id,
        list(TIMELINE_TYPES),
        county_number,
        None if after is None else after.time,
        None if after is None else after.sequence,
        limit,
    )
    return [
        TimelineItem(
            sequence=row["sequence"],
            event_id=row["event_id"],
            type=row["type"],
            time=row["event_time"],
            organisation_ids=tuple(row["organisation_ids"]),
            # The event's data as it was logged (ids and codes only, by the contract).
            data=json.loads(row["payload"])["data"],
        )
        for row in rows
    ]
