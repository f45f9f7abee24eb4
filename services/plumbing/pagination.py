"""Opaque cursors for keyset pagination: the position after which the next page starts.

A cursor is the base64url of a JSON list of strings. Every list of every service uses these
functions, so a bad cursor is always the same 422 problem (see plumbing.problems)."""

import base64
import datetime as dt
import json
import uuid
from typing import Annotated

from fastapi import Query


class BadCursor(ValueError):
    """The cursor was not made by this list."""

    def __init__(self) -> None:
        super().__init__("not a cursor of this list")


def encode_cursor(*position: str) -> str:
    """Opaque text for the `cursor` parameter."""
    raw = json.dumps(list(position)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, parts: int) -> list[str]:
    """The position of `encode_cursor`; BadCursor for anything else."""
    try:
        position = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except ValueError:
        raise BadCursor() from None
    if (
        not isinstance(position, list)
        or len(position) != parts
        or not all(isinstance(part, str) for part in position)
    ):
        raise BadCursor()
    return position


def uuid_part(text: str) -> uuid.UUID:
    """A part of a decoded cursor that is an id; BadCursor when it is not."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise BadCursor() from None


def time_part(text: str) -> dt.datetime:
    """A part of a decoded cursor that is a time with its offset; BadCursor when it is not."""
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadCursor() from None
    if at.tzinfo is None:
        raise BadCursor()
    return at


def int_part(text: str) -> int:
    """A part of a decoded cursor that is a whole number; BadCursor when it is not."""
    try:
        return int(text)
    except ValueError:
        raise BadCursor() from None


def encode_time_and_id(at: dt.datetime, item_id: uuid.UUID) -> str:
    """The cursor of the most common order: newest (or oldest) first, ties by id."""
    return encode_cursor(at.isoformat(), str(item_id))


def decode_time_and_id(text: str | None) -> tuple[dt.datetime, uuid.UUID] | None:
    """The position of `encode_time_and_id`; None for the first page."""
    if text is None:
        return None
    at, item_id = decode_cursor(text, 2)
    return time_part(at), uuid_part(item_id)


CursorParam = Annotated[
    str | None,
    Query(max_length=1000, description="`next_cursor` of the previous page; absent for the first"),
]
LimitParam = Annotated[int, Query(ge=1, le=200, description="how many items a page has at most")]
