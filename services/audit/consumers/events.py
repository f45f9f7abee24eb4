"""The handlers of every domain topic: each event becomes a row of the audit log (a batch's
events all at once, or one at a time when the consumer retries them one by one)."""

import datetime as dt
from collections.abc import Callable, Sequence

from schemas.deadlines import DeadlineMissedV1
from schemas.envelope import CloudEvent, EventData
from schemas.topics import DEADLINE
from services.audit.metrics import DEADLINES_MISSED
from services.audit.usecases.ingest import record_event, record_events
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
    if await record_event(
        connection, data, event, topic=topic, now=clock(), deadline_topic=deadline_topic
    ):
        _count_missed([data])


def _count_missed(logged: Sequence[EventData]) -> None:
    """The dashboard's missed deadlines per organisation, from the events newly logged."""
    for data in logged:
        if isinstance(data, DeadlineMissedV1):
            DEADLINES_MISSED.labels(str(data.organisation_id)).inc()


async def handle_events(
    connection: Connection,
    events: Sequence[tuple[EventData, CloudEvent]],
    *,
    topic: str,
    clock: Callable[[], dt.datetime],
    deadline_topic: str = DEADLINE.name,
) -> None:
    """A plumbing BatchHandler: what `handle_event` does for each, for them all at once."""
    rows = await record_events(
        connection, events, topic=topic, now=clock(), deadline_topic=deadline_topic
    )
    _count_missed([data for (data, _), row in zip(events, rows, strict=True) if row is not None])
