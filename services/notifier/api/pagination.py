"""Opaque keyset cursors: the (time, id) position after which the next page starts.
(The referral service has the same shape; services share no code but plumbing.)"""

import base64
import datetime as dt
import json
import uuid
from typing import Annotated

from fastapi import Query


class BadCursor(ValueError):
    """The cursor was not made by this list."""


def encode_cursor(at: dt.datetime, item_id: uuid.UUID) -> str:
    raw = json.dumps([at.isoformat(), str(item_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None) -> tuple[dt.datetime, uuid.UUID] | None:
    if text is None:
        return None
    try:
        at, item_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        position = (dt.datetime.fromisoformat(at), uuid.UUID(item_id))
    except (ValueError, TypeError):
        raise BadCursor("not a cursor of this list") from None
    if position[0].tzinfo is None:
        raise BadCursor("not a cursor of this list")
    return position


CursorParam = Annotated[
    str | None,
    Query(max_length=1000, description="`next_cursor` of the previous page; absent for the first"),
]
LimitParam = Annotated[int, Query(ge=1, le=200, description="how many items a page has at most")]
