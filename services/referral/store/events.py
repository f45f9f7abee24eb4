"""Writing domain events to the outbox, in the transaction of the change they describe."""

import datetime as dt
import itertools
import uuid
from collections.abc import Callable, Iterable

from schemas.envelope import CloudEvent, EventData
from services.plumbing import outbox
from services.plumbing.database import Connection

SOURCE = "/overgang/referral"
# Makes the id of each event written (uuid.uuid4 in production, something fixed in tests).
NewId = Callable[[], uuid.UUID]


async def enqueue_all(
    connection: Connection, events: Iterable[EventData], *, new_id: NewId, now: dt.datetime
) -> None:
    """Every event to the outbox, in order, in the caller's open transaction: one round trip
    for each run of events to one topic (none for no events)."""
    for topic, run in itertools.groupby(events, key=lambda data: data.topic.name):
        await outbox.enqueue_all(
            connection,
            [CloudEvent.of(data, source=SOURCE, event_id=new_id(), time=now) for data in run],
            topic,
        )
