"""Event backbone benchmark: the outbox relay and the inbox consumer, each beside a raw aiokafka
baseline measured in the same run, on the local stack. Figures to bench/results/backbone.json.

- relay: N events of 1 KB enqueued in single-event transactions, then relayed to Kafka (timed
  from the moment the relay leads), versus raw aiokafka publishing the same N events with the
  same producer settings (idempotent, acks=all, same batching); the median of 3 trials.
  Goal: relay >= 70% of raw throughput.
- inbox consumer: the same topic read by the EventConsumer (FastStream, inbox row plus one
  effect row per event, acknowledged per batch) versus a raw aiokafka consumer.
"""

import asyncio
import datetime as dt
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.common import time_consumer, write_results
from deploy.local import stack
from deploy.local.config import REPOSITORY, TEST_DATABASE, StackConfig
from schemas.deadlines import DeadlineMissedV1
from schemas.envelope import CloudEvent, EventData
from schemas.examples import example_of
from schemas.registry import parse
from services.plumbing.binding import to_record
from services.plumbing.consumer import EventConsumer
from services.plumbing.database import Connection
from services.plumbing.dead_letters import DeadLetterPublisher
from services.plumbing.kafka import partitions_of
from services.plumbing.outbox import OutboxRelay, RelaySettings, enqueue
from services.plumbing.tables import create_plumbing_tables

RESULTS = REPOSITORY / "bench" / "results" / "backbone.json"
# 60,000: at 20,000 a relay trial lasted half a second, and the ratios of one run went from
# 0.48 to 1.14 (the machine's noise, not the relay's); at 60,000 they stay within 0.65-0.92.
EVENTS = int(os.environ.get("OVERGANG_BENCH_EVENTS", "60000"))
KEYS = 500
TRIALS = 3
PARTITIONS = 6
PRODUCER = {"enable_idempotence": True, "acks": "all", "linger_ms": 5, "max_batch_size": 256 * 1024}


def _event(i: int) -> CloudEvent:
    """An event of about 1 KB (the padding is in its data)."""
    return CloudEvent(
        id=uuid.uuid4(),
        source="/overgang/bench",
        type="no.overgang.bench.padded.v1",
        time=dt.datetime.now(dt.UTC),
        data={"n": i, "padding": "x" * 1000},
        partition_key=f"subject-{i % KEYS}",
    )


def _deadline_missed() -> CloudEvent:
    data = example_of(DeadlineMissedV1).model_copy(update={"subject_id": uuid.uuid4()})
    return CloudEvent.of(
        data, source="/overgang/bench", event_id=uuid.uuid4(), time=dt.datetime.now(dt.UTC)
    )


async def _create_topics(bootstrap: str, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=PARTITIONS, replication_factor=1) for name in names]
        )
    finally:
        await admin.close()


@asynccontextmanager
async def _schema(database_url: str) -> AsyncIterator[str]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE SCHEMA "{name}"')
    url = f"{database_url}?search_path={name}"
    connection = await asyncpg.connect(url)
    await create_plumbing_tables(connection)
    await connection.close()
    try:
        yield url
    finally:
        await admin.execute(f'DROP SCHEMA "{name}" CASCADE')
        await admin.close()


async def raw_publish(bootstrap: str, topic: str, events: list[CloudEvent]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER)
    await producer.start()
    try:
        records = [to_record(event) for event in events]
        began = time.perf_counter()
        deliveries = [
            await producer.send(topic, r.value, key=r.key, headers=r.headers) for r in records
        ]
        await asyncio.gather(*deliveries)
        return time.perf_counter() - began
    finally:
        await producer.stop()


async def relay_publish(
    bootstrap: str, topic: str, database_url: str, events: list[CloudEvent]
) -> dict[str, float]:
    connection = await asyncpg.connect(database_url)
    began = time.perf_counter()
    for event in events:
        async with connection.transaction():
            await enqueue(connection, event, topic)
    enqueue_s = time.perf_counter() - began
    await connection.close()

    relay = OutboxRelay(database_url, RelaySettings(bootstrap, f"bench-{uuid.uuid4().hex[:8]}"))
    stop = asyncio.Event()
    began = time.perf_counter()
    running = asyncio.create_task(relay.run(stop))
    await relay.leading.wait()
    began = time.perf_counter()  # relaying from here on: start-up is not throughput
    while relay.published < len(events):  # noqa: ASYNC110 - a counter, polled
        await asyncio.sleep(0.01)
    relay_s = time.perf_counter() - began
    stop.set()
    await running
    return {"enqueue_s": enqueue_s, "relay_s": relay_s}


def raw_consumer(bootstrap: str, topic: str, name: str = "raw") -> AIOKafkaConsumer:
    """A plain aiokafka consumer of the whole topic in a group of its own, committing by hand,
    reading what transactions committed: the baselines' consumer."""
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{name}-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )


async def raw_consume(bootstrap: str, topic: str, expected: int) -> float:
    """A raw aiokafka consumer: batches of 500, offsets committed per batch."""
    consumer = raw_consumer(bootstrap, topic)
    await consumer.start()
    try:
        began = time.perf_counter()
        seen = 0
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            seen += sum(len(records) for records in batches.values())
            if batches:
                await consumer.commit()
        return time.perf_counter() - began
    finally:
        await consumer.stop()


async def inbox_consume(bootstrap: str, topic: str, database_url: str, expected: int) -> float:
    pool: asyncpg.Pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    await pool.execute("CREATE TABLE effects (event_id uuid NOT NULL)")

    async def record_effect(connection: Connection, data: EventData, event: CloudEvent) -> None:
        await connection.execute("INSERT INTO effects (event_id) VALUES ($1)", event.id)

    consumer = EventConsumer(
        topic=topic,
        group=f"bench-inbox-{uuid.uuid4().hex[:8]}",
        pool=pool,
        handler=record_effect,
        parse=parse,
        dead_letters=DeadLetterPublisher(bootstrap, "bench"),
    )
    try:
        return await time_consumer(bootstrap, consumer, expected)
    finally:
        await pool.close()


async def _relay_trial(
    bootstrap: str, database_url: str, events: list[CloudEvent]
) -> dict[str, float]:
    run = uuid.uuid4().hex[:8]
    raw_topic, relay_topic = f"bench.raw.{run}", f"bench.relay.{run}"
    await _create_topics(bootstrap, raw_topic, relay_topic)
    await raw_publish(bootstrap, raw_topic, events[:1000])  # warm the broker and the client
    raw_s = await raw_publish(bootstrap, raw_topic, events)
    async with _schema(database_url) as url:
        relay = await relay_publish(bootstrap, relay_topic, url, events)
    return {"raw_s": raw_s, **relay}


async def measure(bootstrap: str, database_url: str) -> dict[str, Any]:
    events = [_event(i) for i in range(EVENTS)]
    # Two cores run the broker, PostgreSQL and the client: single runs vary, so take the
    # median ratio of several, raw and relay side by side in each.
    trials = [await _relay_trial(bootstrap, database_url, events) for _ in range(TRIALS)]
    ratios = sorted(t["raw_s"] / t["relay_s"] for t in trials)
    median = trials[[t["raw_s"] / t["relay_s"] for t in trials].index(ratios[len(ratios) // 2])]

    consumed = f"bench.consumed.{uuid.uuid4().hex[:8]}"
    await _create_topics(bootstrap, consumed)
    await raw_publish(bootstrap, consumed, [_deadline_missed() for _ in range(EVENTS)])
    raw_consume_s = await raw_consume(bootstrap, consumed, EVENTS)
    async with _schema(database_url) as url:
        inbox_s = await inbox_consume(bootstrap, consumed, url, EVENTS)
    assert len(await partitions_of(bootstrap, consumed)) == PARTITIONS

    return {
        "events": EVENTS,
        "event_bytes": len(to_record(events[0]).value),
        "keys": KEYS,
        "partitions": PARTITIONS,
        "relay": {
            "trials": TRIALS,
            "relay_to_raw_ratios": [round(r, 3) for r in ratios],
            "relay_to_raw_ratio_median": round(ratios[len(ratios) // 2], 3),
            "median_trial": {
                "raw_aiokafka_events_per_s": round(EVENTS / median["raw_s"]),
                "relay_events_per_s": round(EVENTS / median["relay_s"]),
                "enqueue_single_event_transactions_per_s": round(EVENTS / median["enqueue_s"]),
            },
        },
        "consumer": {
            "raw_aiokafka_events_per_s": round(EVENTS / raw_consume_s),
            "inbox_consumer_events_per_s": round(EVENTS / inbox_s),
            "inbox_to_raw_ratio": round(raw_consume_s / inbox_s, 3),
        },
    }


def main() -> None:
    config = StackConfig()
    state, report = stack.up(config)
    try:
        assert state.kafka is not None
        assert state.postgres is not None
        figures = asyncio.run(
            measure(state.kafka.bootstrap, state.postgres.databases[TEST_DATABASE])
        )
    finally:
        if report.started:
            stack.down(config)
    print(json.dumps(write_results(RESULTS, figures), indent=2))


if __name__ == "__main__":
    main()
