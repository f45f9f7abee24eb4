"""/v1/inbox: the in-app inbox of the caller's organisation, unread first and newest first,
for anyone of it whatever their role; mark a notification read. Another organisation's
notifications do not exist for them (404)."""

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from schemas.ids import EventId
from services.notifier.api.deps import Member, Pool
from services.notifier.domain.inbox import InboxNotification, InboxPosition
from services.notifier.domain.messages import plain_words
from services.notifier.usecases import inbox
from services.notifier.usecases.clock import now
from services.plumbing.pagination import (
    BadCursor,
    CursorParam,
    LimitParam,
    decode_cursor,
    encode_cursor,
    time_part,
    uuid_part,
)

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])

NotificationPath = Annotated[uuid.UUID, Path(description="the notification")]


class NotificationRead(BaseModel):
    """That there is something new, of which kind, and which referral it is about (if any)."""

    notification_id: uuid.UUID
    event_id: EventId = Field(description="the CloudEvents id of the event")
    event_type: str
    summary_nb: str = Field(description="the kind of news in plain words, in bokmål")
    summary_en: str = Field(description="the kind of news in plain words, in English")
    referral_id: uuid.UUID | None = Field(description="the referral it is about, if any")
    occurred_at: dt.datetime = Field(description="when the event happened")
    received_at: dt.datetime = Field(description="when it reached the inbox")
    read: bool
    read_at: dt.datetime | None

    @classmethod
    def of(cls, notification: InboxNotification) -> "NotificationRead":
        words = plain_words(notification.event_type)
        return cls(
            notification_id=notification.notification_id,
            event_id=notification.event_id,
            event_type=notification.event_type,
            summary_nb=words.nb,
            summary_en=words.en,
            referral_id=notification.referral_id,
            occurred_at=notification.occurred_at,
            received_at=notification.received_at,
            read=notification.read,
            read_at=notification.read_at,
        )


def _cursor(position: InboxPosition) -> str:
    return encode_cursor(
        "read" if position.read else "unread",
        position.received_at.isoformat(),
        str(position.notification_id),
    )


def _position(cursor: str | None) -> InboxPosition | None:
    if cursor is None:
        return None
    part, at, notification_id = decode_cursor(cursor, 3)
    if part not in ("read", "unread"):
        raise BadCursor()
    return InboxPosition(part == "read", time_part(at), uuid_part(notification_id))


class InboxPage(BaseModel):
    items: list[NotificationRead]
    unread: int = Field(description="unread notifications in the whole inbox")
    next_cursor: str | None = Field(description="for the next page; absent on the last")


@router.get("", summary="The organisation's notifications, unread first, then newest first")
async def list_inbox(
    principal: Member,
    pool: Pool,
    unread: Annotated[bool, Query(description="only the unread ones")] = False,
    cursor: CursorParam = None,
    limit: LimitParam = 50,
) -> InboxPage:
    async with pool.acquire() as connection:
        found = await inbox.page(
            connection,
            principal.organisation_id,
            unread_only=unread,
            after=_position(cursor),
            limit=limit,
        )
    following = None
    if found.more:
        following = _cursor(InboxPosition.of(found.items[-1]))
    return InboxPage(
        items=[NotificationRead.of(item) for item in found.items],
        unread=found.unread,
        next_cursor=following,
    )


@router.post("/{notification_id}/read", summary="Mark a notification read")
async def mark_read(
    notification_id: NotificationPath, principal: Member, pool: Pool
) -> NotificationRead:
    async with pool.acquire() as connection:
        read = await inbox.mark_read(
            connection,
            principal.organisation_id,
            notification_id,
            by=principal.actor_id,
            now=now(),
        )
    return NotificationRead.of(read)
