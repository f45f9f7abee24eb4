"""The handler of the person, directory and deadline topics: each event becomes the
deliveries of the subscriptions that want it (see usecases/notify.py)."""

from collections.abc import Sequence

from schemas.envelope import CloudEvent, EventData
from schemas.topics import DEADLINE, DIRECTORY, PERSON
from services.notifier.usecases.clock import now
from services.notifier.usecases.notify import notify
from services.plumbing.consumer import ConsumerSpec
from services.plumbing.database import Connection

TOPICS: tuple[str, ...] = (PERSON.name, DIRECTORY.name, DEADLINE.name)
GROUP = "overgang-notifier"


async def handle(connection: Connection, data: EventData, event: CloudEvent) -> None:
    """A plumbing Handler: runs in the consumer's inbox transaction."""
    await notify(connection, data, event, now())


def consumer_specs(topics: Sequence[str] = TOPICS) -> list[ConsumerSpec]:
    """One consumer per topic, each in a group of its own (a rebalance of one topic never
    pauses the others)."""
    return [ConsumerSpec(topic=topic, group=f"{GROUP}.{topic}", handler=handle) for topic in topics]
