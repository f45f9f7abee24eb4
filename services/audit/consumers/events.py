"""The handler of every domain topic: each event becomes a row of the audit log."""

import datetime as dt
from collections.abc import Callable

from schemas.envelope import CloudEvent, EventData
from schemas.topics import DEADLINE
from services.audit.usecases.ingest import record_event
from services.plumbing.database import Connection


async def handle_event(
    connection: Connection,
    data: EventData,
    event: CloudEvent,
    *,
    topic: str,
    clock: Callable[[], dt.datetime],
    deadline_topic: str = DEADLINE.name,
) -> None:
    """A plumbing Handler (bind `topic`, `clock` and `deadline_topic`, where deadline notices
    go, with functools.partial)."""
    await record_event(
        connection, data, event, topic=topic, now=clock(), deadline_topic=deadline_topic
    )
