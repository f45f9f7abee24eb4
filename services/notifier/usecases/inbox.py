"""The in-app inbox of an organisation: listed unread first, newest first; marked read."""

import datetime as dt
import uuid
from dataclasses import dataclass

from schemas.ids import ActorId, OrganisationId
from services.notifier.domain.inbox import InboxNotification, InboxPosition
from services.notifier.store import inbox
from services.notifier.usecases.errors import NotFound
from services.plumbing.database import Connection


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxNotification]
    unread: int  # of the whole inbox, not of this page
    more: bool


async def page(
    connection: Connection,
    organisation_id: OrganisationId,
    *,
    unread_only: bool,
    after: InboxPosition | None,
    limit: int,
) -> InboxPage:
    found = await inbox.page(
        connection, organisation_id, unread_only=unread_only, after=after, limit=limit + 1
    )
    unread = await inbox.unread_count(connection, organisation_id)
    return InboxPage(items=found[:limit], unread=unread, more=len(found) > limit)


async def mark_read(
    connection: Connection,
    organisation_id: OrganisationId,
    notification_id: uuid.UUID,
    *,
    by: ActorId,
    now: dt.datetime,
) -> InboxNotification:
    """Marks the organisation's notification read (once; again is harmless)."""
    async with connection.transaction():
        found = await inbox.get(connection, organisation_id, notification_id, lock=True)
        if found is None:
            raise NotFound("no such notification")
        read = found.mark_read(by, now)
        if read is not found:
            await inbox.save_read(connection, read)
        return read
