"""Helpers for consumer tests: numbered deadline events, publishing raw records, a consumer
running on a real FastStream broker, and the effects table its handler writes."""

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from schemas.deadlines import DeadlineMissedV1
from schemas.envelope import CloudEvent, EventData
from schemas.examples import example_of
from schemas.registry import parse
from services.plumbing.binding import KafkaRecord
from services.plumbing.consumer import EventConsumer, Handler
from services.plumbing.database import Connection
from services.plumbing.dead_letters import DeadLetterPublisher
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
