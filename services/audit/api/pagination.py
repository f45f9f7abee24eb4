"""Opaque cursors for keyset pagination: the position after which the next page starts."""

import base64
import json
from typing import Annotated

from fastapi import Query


class BadCursor(ValueError):
    """The cursor was not made by this list."""


def encode_cursor(*position: str) -> str:
    raw = json.dumps(list(position)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, parts: int) -> list[str]:
    """The position of `encode_cursor`; BadCursor for anything else."""
    try:
        position = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except ValueError:
        raise BadCursor("not a cursor of this list") from None
    if (
        not isinstance(position, list)
        or len(position) != parts
        or not all(isinstance(part, str) for part in position)
    ):
        raise BadCursor("not a cursor of this list")
    return position


CursorParam = Annotated[
    str | None,
    Query(max_length=1000, description="`next_cursor` of the previous page; absent for the first"),
]
LimitParam = Annotated[int, Query(ge=1, le=200, description="how many items a page has at most")]
