"""The time and the ids use cases hand to the domain and the store."""

import datetime as dt
import uuid


def now() -> dt.datetime:
    """The time of a change: aware, UTC."""
    return dt.datetime.now(dt.UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()
