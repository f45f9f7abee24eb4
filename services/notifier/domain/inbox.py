"""The in-app inbox: one notification per event per organisation it was routed to, read by
anyone of that organisation. It says what kind of news there is and, for a referral's
events, which referral; nothing about the person."""

import datetime as dt
import uuid
from dataclasses import dataclass, replace

from schemas.ids import ActorId, EventId, OrganisationId

# Fixed for ever: an inbox notification's id is derived from the event and the organisation,
# so that a redelivered record never makes a second one.
_INBOX_NAMESPACE = uuid.UUID("0b3f6a52-1c9e-4d57-8f2a-6c0e9d4b2a73")


def notification_id_for(event_id: uuid.UUID, organisation_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(_INBOX_NAMESPACE, f"{event_id}/{organisation_id}")


@dataclass(frozen=True)
class InboxNotification:
    notification_id: uuid.UUID
    organisation_id: OrganisationId
    event_id: EventId
    event_type: str
    referral_id: uuid.UUID | None
    occurred_at: dt.datetime  # when the event happened
    received_at: dt.datetime  # when it reached the inbox; the inbox's order
    read_at: dt.datetime | None = None
    read_by: ActorId | None = None

    @property
    def read(self) -> bool:
        return self.read_at is not None

    def mark_read(self, by: ActorId, now: dt.datetime) -> "InboxNotification":
        """Read from now on; reading it again changes nothing (the first reader is kept)."""
        if self.read:
            return self
        return replace(self, read_at=now, read_by=by)


@dataclass(frozen=True)
class InboxPosition:
    """Where a page of the inbox ended, in its order: unread before read, then newest first.
    A notification read while someone pages moves to the read part; paging goes on from
    where it was and may show it again there."""

    read: bool
    received_at: dt.datetime
    notification_id: uuid.UUID

    @classmethod
    def of(cls, notification: InboxNotification) -> "InboxPosition":
        return cls(notification.read, notification.received_at, notification.notification_id)
