"""The in-app inbox: notifications added once per (event, organisation), listed per
organisation unread first and newest first, marked read."""

import uuid
from collections.abc import Sequence

import asyncpg

from schemas.ids import ActorId, EventId, OrganisationId
from services.notifier.domain.inbox import InboxNotification, InboxPosition
from services.plumbing.database import Connection

_COLUMNS = """notification_id, organisation_id, event_id, event_type, referral_id, occurred_at,
              received_at, read_at, read_by"""


def _notification(row: asyncpg.Record) -> InboxNotification:
    return InboxNotification(
        notification_id=row["notification_id"],
        organisation_id=OrganisationId(row["organisation_id"]),
        event_id=EventId(row["event_id"]),
        event_type=row["event_type"],
        referral_id=row["referral_id"],
        occurred_at=row["occurred_at"],
        received_at=row["received_at"],
        read_at=row["read_at"],
        read_by=None if row["read_by"] is None else ActorId(row["read_by"]),
    )


async def add_all(connection: Connection, notifications: Sequence[InboxNotification]) -> int:
    """Adds those not there yet (per event and organisation); how many were new."""
    if not notifications:
        return 0
    rows = await connection.fetch(
        """INSERT INTO inbox_notifications (notification_id, organisation_id, event_id,
               event_type, referral_id, occurred_at, received_at)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[],
                                $6::timestamptz[], $7::timestamptz[])
           ON CONFLICT DO NOTHING
           RETURNING notification_id""",
        [n.notification_id for n in notifications],
        [n.organisation_id for n in notifications],
        [n.event_id for n in notifications],
        [n.event_type for n in notifications],
        [n.referral_id for n in notifications],
        [n.occurred_at for n in notifications],
        [n.received_at for n in notifications],
    )
    return len(rows)


async def page(
    connection: Connection,
    organisation_id: OrganisationId,
    *,
    unread_only: bool,
    after: InboxPosition | None,
    limit: int,
) -> list[InboxNotification]:
    """The organisation's notifications, unread first, each part newest first, after a
    keyset position."""
    rows = await connection.fetch(
        f"""SELECT {_COLUMNS} FROM inbox_notifications
            WHERE organisation_id = $1
              AND (NOT $2 OR read_at IS NULL)
              AND ($3::boolean IS NULL
                   OR (read_at IS NOT NULL) > $3
                   OR ((read_at IS NOT NULL) = $3 AND (received_at, notification_id) < ($4, $5)))
            ORDER BY (read_at IS NOT NULL), received_at DESC, notification_id DESC
            LIMIT $6""",  # noqa: S608
        organisation_id,
        unread_only,
        None if after is None else after.read,
        None if after is None else after.received_at,
        None if after is None else after.notification_id,
        limit,
    )
    return [_notification(row) for row in rows]


async def unread_count(connection: Connection, organisation_id: OrganisationId) -> int:
    count: int = await connection.fetchval(
        """SELECT count(*) FROM inbox_notifications
           WHERE organisation_id = $1 AND read_at IS NULL""",
        organisation_id,
    )
    return count


async def get(
    connection: Connection,
    organisation_id: OrganisationId,
    notification_id: uuid.UUID,
    *,
    lock: bool = False,
) -> InboxNotification | None:
    """The organisation's notification, or None (also when it is another's)."""
    row = await connection.fetchrow(
        f"""SELECT {_COLUMNS} FROM inbox_notifications
            WHERE notification_id = $1 AND organisation_id = $2
            {"FOR UPDATE" if lock else ""}""",  # noqa: S608
        notification_id,
        organisation_id,
    )
    return None if row is None else _notification(row)


async def save_read(connection: Connection, notification: InboxNotification) -> None:
    await connection.execute(
        """UPDATE inbox_notifications SET read_at = $2, read_by = $3
           WHERE notification_id = $1""",
        notification.notification_id,
        notification.read_at,
        notification.read_by,
    )
