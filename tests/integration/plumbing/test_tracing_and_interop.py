"""One trace follows an event from the change that caused it through Kafka to its handling;
and clients that are not ours read our records and write records we accept."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent
from kafka import KafkaConsumer, KafkaProducer
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from schemas.envelope import CloudEvent, EventData
from services.plumbing.database import Connection
from services.plumbing.outbox import OutboxRelay, RelaySettings, enqueue
from services.plumbing.telemetry import TraceExporter, configure_tracing
from tests.conftest import NewTopicFactory
from tests.integration.plumbing.consumer_helpers import (
    RunningConsumer,
    deadline_missed,
    effects,
    eventually,
    make_consumer,
    record_effect,
)
from tests.integration.plumbing.outbox_helpers import wait_until_sent
from tests.servers import Servers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """The process's tracer provider, as services install it, with spans kept in memory."""
    exporter = InMemorySpanExporter()
    configure_tracing("overgang-tests", TraceExporter.NONE).add_span_processor(
        SimpleSpanProcessor(exporter)
    )
    return exporter


@pytest.fixture
async def relay(servers: Servers, database_url: str, transactional_id: str) -> AsyncIterator[None]:
    stop = asyncio.Event()
    running = asyncio.create_task(
        OutboxRelay(database_url, RelaySettings(servers.kafka_bootstrap, transactional_id)).run(
            stop
        )
    )
    yield
    stop.set()
    await asyncio.wait_for(running, 30)


def _one(spans: InMemorySpanExporter, name: str, event_id: str) -> ReadableSpan:
    (span,) = [
        s
        for s in spans.get_finished_spans()
        if s.name == name and (s.attributes or {}).get("messaging.message.id") == event_id
    ]
    return span


async def test_one_trace_runs_from_the_change_through_publish_to_handling(
    servers: Servers,
    new_topic: NewTopicFactory,
    database_url: str,
    pool: asyncpg.Pool,
    spans: InMemorySpanExporter,
    relay: None,
) -> None:
    topic = await new_topic("traced", partitions=1)
    event = deadline_missed()
    with trace.get_tracer(__name__).start_as_current_span("accept referral") as change:
        connection = await asyncpg.connect(database_url)
        async with connection.transaction():
            await enqueue(connection, event, topic)
        await connection.close()
    await wait_until_sent(database_url, 1)
    async with RunningConsumer(servers, make_consumer(servers, topic, pool)):
        await eventually(lambda: _handled(pool, 1))

    create = _one(spans, f"{topic} create", str(event.id))
    process = _one(spans, f"{topic} process", str(event.id))
    trace_id = change.get_span_context().trace_id
    assert create.context is not None
    assert process.context is not None
    assert create.kind is trace.SpanKind.PRODUCER
    assert create.context.trace_id == trace_id
    assert process.context.trace_id == trace_id
    assert process.parent is not None
    assert process.parent.span_id == create.context.span_id
    # The relay's publish is a span of its own per batch.
    assert any(
        s.name == f"{topic} publish" and s.kind is trace.SpanKind.PRODUCER
        for s in spans.get_finished_spans()
    )
    # The handler's database work is part of the same trace.
    assert any(
        s.context is not None
        and s.context.trace_id == trace_id
        and (s.attributes or {}).get("db.system") == "postgresql"
        and s.parent is not None
        and s.parent.span_id == process.context.span_id
        for s in spans.get_finished_spans()
    )


async def test_a_batch_handled_at_once_is_one_span_linked_to_each_event(
    servers: Servers,
    new_topic: NewTopicFactory,
    database_url: str,
    pool: asyncpg.Pool,
    spans: InMemorySpanExporter,
    relay: None,
) -> None:
    topic = await new_topic("traced-batch", partitions=1)
    events = [deadline_missed() for _ in range(3)]
    connection = await asyncpg.connect(database_url)
    creators = []
    for event in events:
        with trace.get_tracer(__name__).start_as_current_span("a change") as change:
            async with connection.transaction():
                await enqueue(connection, event, topic)
        creators.append(change.get_span_context().trace_id)
    await connection.close()
    await wait_until_sent(database_url, 3)

    async def all_at_once(
        connection: Connection, items: Sequence[tuple[EventData, CloudEvent]]
    ) -> None:
        for data, event in items:
            await record_effect(connection, data, event)

    consumer = make_consumer(servers, topic, pool)
    consumer.batch_handler = all_at_once
    async with RunningConsumer(servers, consumer):
        await eventually(lambda: _handled(pool, 3))

    processes = [
        s
        for s in spans.get_finished_spans()
        if s.name == f"{topic} process" and s.kind is trace.SpanKind.CONSUMER
    ]
    linked = [link.context.trace_id for process in processes for link in process.links]
    # Each event's trace is linked from the span of the batch that handled it, once.
    assert sorted(linked) == sorted(creators)
    counts = [(p.attributes or {}).get("messaging.batch.message_count") for p in processes]
    assert sum(count for count in counts if isinstance(count, int)) == 3


async def _handled(pool: asyncpg.Pool, expected: int) -> bool:
    return len(await effects(pool)) >= expected


async def test_our_records_are_read_by_other_clients(
    servers: Servers, new_topic: NewTopicFactory, database_url: str, relay: None
) -> None:
    topic = await new_topic("interop", partitions=1)
    event = deadline_missed()
    connection = await asyncpg.connect(database_url)
    async with connection.transaction():
        await enqueue(connection, event, topic)
    await connection.close()
    await wait_until_sent(database_url, 1)

    record = await asyncio.to_thread(_read_one_with_kafka_python, servers.kafka_bootstrap, topic)
    headers = {name: value for name, value in record.headers}
    decoded = from_binary(
        KafkaMessage(headers=headers, key=record.key, value=record.value), JSONFormat()
    )

    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"no.overgang.deadline.missed.v1"
    assert decoded.get_id() == str(event.id)
    assert decoded.get_type() == event.type
    assert decoded.get_source() == event.source
    assert decoded.get_subject() == event.subject
    assert decoded.get_time() == event.time
    assert decoded.get_data() == event.data
    assert record.key == event.partition_key.encode()
    assert b"traceparent" in {name.encode() for name in headers}


def _read_one_with_kafka_python(bootstrap: str, topic: str) -> Any:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        consumer_timeout_ms=15_000,
        enable_auto_commit=False,
    )
    try:
        return next(iter(consumer))
    finally:
        consumer.close()


async def test_a_record_from_the_cloudevents_sdk_is_accepted(
    servers: Servers, new_topic: NewTopicFactory, pool: asyncpg.Pool
) -> None:
    topic = await new_topic("interop", partitions=1)
    ours = deadline_missed()
    theirs = SdkCloudEvent(
        {
            "id": str(ours.id),
            "source": "urn:example:case-system",
            "type": ours.type,
            "subject": ours.subject,
            "time": ours.time,
            "datacontenttype": "application/json",
            "partitionkey": ours.partition_key,
        },
        ours.data,
    )
    message = to_binary(theirs, JSONFormat())
    await asyncio.to_thread(_send_with_kafka_python, servers.kafka_bootstrap, topic, message)

    async with RunningConsumer(servers, make_consumer(servers, topic, pool)) as running:
        await eventually(lambda: _handled(pool, 1))

    assert await effects(pool) == [ours.id]
    assert running.consumer.totals.dead_lettered == 0


def _send_with_kafka_python(bootstrap: str, topic: str, message: KafkaMessage) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    key = message.key.encode() if isinstance(message.key, str) else message.key
    producer.send(topic, value=message.value, key=key, headers=list(message.headers.items()))
    producer.flush()
    producer.close()
