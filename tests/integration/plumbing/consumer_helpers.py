"""Helpers for consumer tests: numbered deadline events, publishing raw records, a consumer
running on a real FastStream broker, rewinding its group, and the effects table its handler
writes."""

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from schemas.deadlines import DeadlineMissedV1
from schemas.envelope import CloudEvent, EventData
from schemas.examples import example_of
from schemas.registry import parse
from services.plumbing.binding import KafkaRecord
from services.plumbing.consumer import EventConsumer, Handler
from services.plumbing.database import Connection
from services.plumbing.dead_letters import DeadLetterPublisher
from services.plumbing.kafka import partitions_of
from tests.servers import Servers


def deadline_missed(**changes: object) -> CloudEvent:
    data = example_of(DeadlineMissedV1).model_copy(
        update={"subject_id": uuid.uuid4(), "referral_id": uuid.uuid4(), **changes}
    )
    return CloudEvent.of(
        data, source="/overgang/tests", event_id=uuid.uuid4(), time=dt.datetime.now(dt.UTC)
    )


async def publish(servers: Servers, topic: str, records: list[KafkaRecord]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=servers.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def record_effect(connection: Connection, data: EventData, event: CloudEvent) -> None:
    await connection.execute("INSERT INTO effects (event_id) VALUES ($1)", event.id)


async def eventually(condition: Callable[[], Awaitable[bool]], *, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while not await condition():
        assert time.monotonic() < deadline, "the consumer did not get there in time"
        await asyncio.sleep(0.1)


class RunningConsumer:
    """An EventConsumer subscribed on a real FastStream broker."""

    def __init__(self, servers: Servers, consumer: EventConsumer) -> None:
        self.broker = KafkaBroker(servers.kafka_bootstrap)
        self.consumer = consumer
        consumer.subscribe(self.broker)

    async def __aenter__(self) -> "RunningConsumer":
        await self.consumer.dead_letters.start()
        await self.broker.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.broker.stop()
        await self.consumer.dead_letters.stop()


def make_consumer(
    servers: Servers, topic: str, pool: asyncpg.Pool, handler: Handler = record_effect
) -> EventConsumer:
    return EventConsumer(
        topic=topic,
        group=f"{topic}.group",
        pool=pool,
        handler=handler,
        parse=parse,
        dead_letters=DeadLetterPublisher(servers.kafka_bootstrap, "tests"),
    )


async def effects(pool: asyncpg.Pool) -> list[uuid.UUID]:
    return [row["event_id"] for row in await pool.fetch("SELECT event_id FROM effects")]


async def rewind_group(servers: Servers, topic: str, group: str) -> None:
    """Move the group's committed offsets on `topic` back to the start, so that every record
    comes again. Kafka takes a commit from outside a group only while the group has no
    members, so this waits for the last member's leave first, then checks the commit held.
    (A rewinding consumer with auto-commit on put some positions back when it stopped: the
    flaky redelivery tests.)"""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers.kafka_bootstrap)
    await admin.start()
    try:
        await eventually(lambda: _has_no_members(admin, group), within_s=30)
        partitions = await partitions_of(servers.kafka_bootstrap, topic)
        # No auto-commit: its last commit on stop would put back the positions it fetched.
        rewind = AIOKafkaConsumer(
            bootstrap_servers=servers.kafka_bootstrap, group_id=group, enable_auto_commit=False
        )
        await rewind.start()
        try:
            rewind.assign(partitions)
            await rewind.commit({partition: 0 for partition in partitions})
        finally:
            await rewind.stop()
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        assert {partition: offset.offset for partition, offset in committed.items()} == {
            partition: 0 for partition in partitions
        }
    finally:
        await admin.close()


async def _has_no_members(admin: AIOKafkaAdminClient, group: str) -> bool:
    (response,) = await admin.describe_consumer_groups([group])
    (description,) = response.to_object()["groups"]
    return bool(description["state"] in ("Empty", "Dead"))
