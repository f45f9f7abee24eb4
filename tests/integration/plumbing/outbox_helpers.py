"""Writing numbered events to an outbox and reading back what reached Kafka."""

import asyncio
import datetime as dt
import json
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer

from schemas.envelope import CloudEvent
from services.plumbing.kafka import partitions_of
from services.plumbing.outbox import enqueue

EVENT_TYPE = "no.overgang.test.numbered.v1"


def numbered_event(key: str, number: int) -> CloudEvent:
    return CloudEvent(
        id=uuid.uuid4(),
        source="/overgang/tests",
        type=EVENT_TYPE,
        time=dt.datetime.now(dt.UTC),
        data={"key": key, "number": number},
        partition_key=key,
    )


async def enqueue_numbered(
    database_url: str, topic: str, *, events: int, keys: int, per_transaction: int = 50
) -> None:
    """`events` events over `keys` keys, each key's numbered 0, 1, 2, ... in enqueue order."""
    connection = await asyncpg.connect(database_url)
    try:
        counters: dict[str, int] = defaultdict(int)
        for start in range(0, events, per_transaction):
            async with connection.transaction():
                for i in range(start, min(start + per_transaction, events)):
                    key = f"subject-{i % keys}"
                    await enqueue(connection, numbered_event(key, counters[key]), topic)
                    counters[key] += 1
    finally:
        await connection.close()


async def wait_until_sent(
    database_url: str, expected: int, *, timeout_s: float = 120, poll_s: float = 0.2
) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            sent = await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL"
            )
            if sent >= expected:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"only {sent} of {expected} outbox rows were sent")
            await asyncio.sleep(poll_s)
    finally:
        await connection.close()


async def sent_count(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(
            await connection.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL")
        )
    finally:
        await connection.close()


@dataclass(frozen=True)
class Received:
    event_id: str
    key: str
    number: int


async def read_topic(bootstrap: str, topic: str) -> list[Received]:
    """Everything committed on `topic`, as a read_committed consumer sees it."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        partitions = await partitions_of(bootstrap, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        received: list[Received] = []
        while any([await consumer.position(p) < ends[p] for p in partitions]):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    headers = dict(record.headers)
                    data = json.loads(record.value)
                    # Numbered test events carry key and number; others only an id.
                    key, number = data.get("key", record.key.decode()), data.get("number", -1)
                    received.append(Received(headers["ce_id"].decode(), key, number))
        return received
    finally:
        await consumer.stop()


def assert_once_each_in_order(received: list[Received], *, events: int, keys: int) -> None:
    ids = [r.event_id for r in received]
    assert len(set(ids)) == len(ids), f"{len(ids) - len(set(ids))} events arrived twice"
    assert len(ids) == events, f"{events - len(ids)} events were lost"
    by_key: dict[str, list[int]] = defaultdict(list)
    for r in received:
        by_key[r.key].append(r.number)
    assert len(by_key) == keys
    for key, numbers in by_key.items():
        assert numbers == list(range(len(numbers))), f"{key}'s events are out of order"
