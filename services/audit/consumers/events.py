"""The handler of every domain topic: each event becomes a row of the audit log."""

import datetime as dt
from collections.abc import Callable

from schemas.envelope import CloudEvent, EventData
from services.audit.usecases.ingest import record_event
from services.plumbing.database import Connection


async def handle_event(
    connection: Connection,
    data: EventData,
    event: CloudEvent,
    *,
    topic: str,
    clock: Callable[[], dt.datetime],
) -> None:
    """A plumbing Handler (bind `topic` and `clock` with functools.partial)."""
    await record_event(connection, data, event, topic=topic, now=clock())
