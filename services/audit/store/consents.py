"""Reading the events a person's consent ledger is made of out of the log."""

import json
import uuid

from services.audit.domain.consents import LEDGER_TYPES, LoggedEvent
from services.plumbing.database import Connection


async def ledger_events(
    connection: Connection, *, subject_id: uuid.UUID, county_number: str
) -> list[LoggedEvent]:
    """The person's consent and handoff events, in log order, each saying whether it involves
    an organisation of the county. Dead-lettered records are not part of the ledger."""
    rows = await connection.fetch(
        """SELECT sequence, event_id, type, payload,
                  EXISTS (SELECT FROM directory_organisations o
                          WHERE o.organisation_id = ANY(l.organisation_ids)
                            AND o.county_number = $3) AS in_county
           FROM audit_log l
           WHERE subject_id = $1
             AND dead_letter IS NULL
             AND payload IS NOT NULL
             AND type = ANY($2::text[])
           ORDER BY sequence""",
        subject_id,
        list(LEDGER_TYPES),
        county_number,
    )
    return [
        LoggedEvent(
            sequence=row["sequence"],
            event_id=row["event_id"],
            type=row["type"],
            # The event's data as it was logged (ids and codes only, by the contract).
            data=json.loads(row["payload"])["data"],
            in_county=row["in_county"],
        )
        for row in rows
    ]
