"""Receipts of inbound events taken over HTTP, one per CloudEvents id and source."""

import datetime as dt
import uuid
from dataclasses import dataclass

from schemas.ids import OrganisationId
from services.plumbing.database import Connection


@dataclass(frozen=True)
class Receipt:
    """That an event was received: when, and a keyed hash of what it was."""

    source: str
    event_id: uuid.UUID
    event_type: str
    fingerprint: bytes
    sent_by: OrganisationId
    topic: str
    received_at: dt.datetime


async def claim(connection: Connection, receipt: Receipt) -> Receipt | None:
    """None when the event is new (its receipt now written in this transaction); the receipt
    written before when it is not. A claim waits on a concurrent, uncommitted claim of the
    same id and source (the primary key), so two concurrent resends never both publish."""
    claimed = await connection.fetchval(
        """INSERT INTO inbound_receipts (source, event_id, event_type, fingerprint,
               sent_by_organisation_id, topic, received_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT DO NOTHING RETURNING true""",
        receipt.source,
        receipt.event_id,
        receipt.event_type,
        receipt.fingerprint,
        receipt.sent_by,
        receipt.topic,
        receipt.received_at,
    )
    if claimed:
        return None
    row = await connection.fetchrow(
        """SELECT source, event_id, event_type, fingerprint, sent_by_organisation_id, topic,
                  received_at
           FROM inbound_receipts WHERE source = $1 AND event_id = $2""",
        receipt.source,
        receipt.event_id,
    )
    assert row is not None  # it conflicted, and receipts are never deleted
    return Receipt(
        source=row["source"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        fingerprint=bytes(row["fingerprint"]),
        sent_by=OrganisationId(row["sent_by_organisation_id"]),
        topic=row["topic"],
        received_at=row["received_at"],
    )
