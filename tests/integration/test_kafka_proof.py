"""The local broker is a real Kafka: an idempotent producer and a committing consumer group."""

from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.conftest import NewTopicFactory
from tests.servers import Servers

pytestmark = pytest.mark.integration

RECORDS = 1_000
KEYS = 20


async def test_a_thousand_records_arrive_once_each_in_order_per_key(
    servers: Servers, new_topic: NewTopicFactory
) -> None:
    topic = await new_topic("proof", partitions=3)
    producer = AIOKafkaProducer(
        bootstrap_servers=servers.kafka_bootstrap, enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        sends = [
            await producer.send(topic, key=f"k{i % KEYS}".encode(), value=str(i).encode())
            for i in range(RECORDS)
        ]
        for delivery in sends:
            await delivery
    finally:
        await producer.stop()

    group = f"{topic}.group"
    received = await _consume_and_commit(servers, topic, group, expected=RECORDS)

    by_key: dict[bytes, list[int]] = defaultdict(list)
    for key, value in received:
        by_key[key].append(value)
    assert sorted(value for _, value in received) == list(range(RECORDS))
    for key, values in by_key.items():
        assert values == sorted(values), f"records of {key!r} arrived out of order"

    # The group committed everything: a new member of it finds nothing left to read.
    assert await _consume_and_commit(servers, topic, group, expected=0) == []


async def _consume_and_commit(
    servers: Servers, topic: str, group: str, *, expected: int
) -> list[tuple[bytes, int]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=servers.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    received: list[tuple[bytes, int]] = []
    try:
        # An empty poll is only trusted once the group has its partitions.
        while len(received) < expected or not consumer.assignment():
            batches = await consumer.getmany(timeout_ms=1_000)
            for records in batches.values():
                received.extend((r.key, int(r.value)) for r in records)
            await consumer.commit()
        if expected == 0:
            batches = await consumer.getmany(timeout_ms=1_000)
            received.extend((r.key, int(r.value)) for rs in batches.values() for r in rs)
        ends = await consumer.end_offsets(list(consumer.assignment()))
        for partition in consumer.assignment():
            assert await consumer.committed(partition) == ends[partition]
        assert {p.partition for p in consumer.assignment()} == {0, 1, 2}
    finally:
        await consumer.stop()
    return received
