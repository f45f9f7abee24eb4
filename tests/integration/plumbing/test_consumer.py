"""Consuming at least once with each effect once; what cannot be handled is dead-lettered."""

import asyncio
import json
from collections.abc import Sequence

import asyncpg
import pytest

from deploy.local.cli import main as cli
from schemas.envelope import CloudEvent, EventData
from services.plumbing.binding import KafkaRecord, to_record
from services.plumbing.consumer import EventConsumer
from services.plumbing.database import Connection
from services.plumbing.dead_letters import read_dead_letters
from tests.conftest import NewTopicFactory
from tests.integration.plumbing.consumer_helpers import (
    RunningConsumer,
    deadline_missed,
    effects,
    eventually,
    make_consumer,
    publish,
    record_effect,
    rewind_group,
)
from tests.servers import Servers

pytestmark = pytest.mark.integration


async def test_redelivered_events_have_their_effect_once(
    servers: Servers, new_topic: NewTopicFactory, pool: asyncpg.Pool
) -> None:
    topic = await new_topic("inbox", partitions=3)
    events = [deadline_missed() for _ in range(200)]
    await publish(servers, topic, [to_record(event) for event in events])
    consumer = make_consumer(servers, topic, pool)

    async with RunningConsumer(servers, consumer):
        await eventually(lambda: _count(pool, 200))
    # Rewind the group to the start: every record comes again.
    await rewind_group(servers, topic, consumer.group)
    async with RunningConsumer(servers, consumer):
        await eventually(lambda: _duplicates(consumer, 200))

    assert sorted(await effects(pool)) == sorted(event.id for event in events)
    assert consumer.totals.handled == 200
    assert consumer.totals.duplicates == 200


async def _count(pool: asyncpg.Pool, expected: int) -> bool:
    return len(await effects(pool)) >= expected


async def _duplicates(consumer: EventConsumer, expected: int) -> bool:
    return consumer.totals.duplicates >= expected


async def test_what_cannot_be_handled_is_dead_lettered_and_the_rest_goes_on(
    servers: Servers, new_topic: NewTopicFactory, pool: asyncpg.Pool
) -> None:
    topic = await new_topic("dlq", partitions=1)
    await new_topic_named(servers, f"{topic}.dlq")
    before, poisoned, after = deadline_missed(), deadline_missed(), deadline_missed()
    valid = to_record(deadline_missed())
    malformed = KafkaRecord(valid.key, b"\x00\xff not json", valid.headers)
    unknown = to_record(deadline_missed().model_copy(update={"type": "no.overgang.unknown.v1"}))
    violating = to_record(deadline_missed().model_copy(update={"data": {"referral_id": "x"}}))

    async def fail_on_poison(connection: Connection, data: EventData, event: CloudEvent) -> None:
        if event.id == poisoned.id:
            raise RuntimeError("this handler cannot cope")
        await record_effect(connection, data, event)

    records = [
        to_record(before),
        malformed,
        unknown,
        violating,
        to_record(poisoned),
        to_record(after),
    ]
    await publish(servers, topic, records)
    consumer = make_consumer(servers, topic, pool, fail_on_poison)

    async with RunningConsumer(servers, consumer):
        await eventually(lambda: _count(pool, 2))
        await eventually(lambda: _dead_lettered(consumer, 4))

    assert sorted(await effects(pool)) == sorted([before.id, after.id])
    letters = await read_dead_letters(servers.kafka_bootstrap, topic)
    assert [letter.reason["reason"] for letter in letters] == [
        "undecodable", "unknown_type", "schema_violation", "handler_failed",
    ]  # fmt: skip
    assert [letter.reason["source_offset"] for letter in letters] == ["1", "2", "3", "4"]
    assert letters[3].reason["attempts"] == "3"
    assert letters[3].reason["error_class"] == "RuntimeError"
    assert all(letter.reason["source_topic"] == topic for letter in letters)
    for letter, original in zip(letters, records[1:5], strict=True):
        assert letter.value == original.value
        assert letter.key == original.key
        assert letter.original_headers == original.headers
    outcome = await pool.fetchval("SELECT outcome FROM inbox WHERE event_id = $1", poisoned.id)
    assert outcome == "dead_lettered"


async def test_a_batch_handler_takes_the_batch_at_once_and_a_failure_goes_one_by_one(
    servers: Servers, new_topic: NewTopicFactory, pool: asyncpg.Pool
) -> None:
    topic = await new_topic("batches", partitions=1)
    await new_topic_named(servers, f"{topic}.dlq")
    events = [deadline_missed() for _ in range(30)]
    poisoned = events[17]
    batch_sizes: list[int] = []

    async def fail_on_poison(connection: Connection, data: EventData, event: CloudEvent) -> None:
        if event.id == poisoned.id:
            raise RuntimeError("this handler cannot cope")
        await record_effect(connection, data, event)

    async def all_at_once(
        connection: Connection, items: Sequence[tuple[EventData, CloudEvent]]
    ) -> None:
        batch_sizes.append(len(items))
        for data, event in items:
            await fail_on_poison(connection, data, event)

    await publish(servers, topic, [to_record(event) for event in events])
    consumer = make_consumer(servers, topic, pool, fail_on_poison)
    consumer.batch_handler = all_at_once

    async with RunningConsumer(servers, consumer):
        await eventually(lambda: _count(pool, 29))
        await eventually(lambda: _dead_lettered(consumer, 1))

    # Batches of more than one event went to the batch handler; the one holding the poisoned
    # event was undone and done again one by one: everything else had its effect once.
    assert max(batch_sizes) > 1
    assert sorted(await effects(pool)) == sorted(e.id for e in events if e is not poisoned)
    assert consumer.totals.handled == 29
    [letter] = await read_dead_letters(servers.kafka_bootstrap, topic)
    assert letter.reason["reason"] == "handler_failed"
    assert letter.value == to_record(poisoned).value


async def _dead_lettered(consumer: EventConsumer, expected: int) -> bool:
    return consumer.totals.dead_lettered >= expected


async def test_a_dead_letter_replayed_by_the_cli_is_handled_once_the_cause_is_fixed(
    servers: Servers,
    new_topic: NewTopicFactory,
    pool: asyncpg.Pool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    topic = await new_topic("replay", partitions=1)
    await new_topic_named(servers, f"{topic}.dlq")
    event = deadline_missed()
    broken = True

    async def broken_until_fixed(
        connection: Connection, data: EventData, event: CloudEvent
    ) -> None:
        if broken:
            raise RuntimeError("a bug, fixed in the next release")
        await record_effect(connection, data, event)

    consumer = make_consumer(servers, topic, pool, broken_until_fixed)
    await publish(servers, topic, [to_record(event)])
    async with RunningConsumer(servers, consumer):
        await eventually(lambda: _dead_lettered(consumer, 1))
        listed = await asyncio.to_thread(
            cli, ["dead-letters", "list", topic, "--bootstrap", servers.kafka_bootstrap, "--json"]
        )
        broken = False
        await asyncio.to_thread(
            cli, ["dead-letters", "replay", topic, "0:0", "--bootstrap", servers.kafka_bootstrap]
        )
        await eventually(lambda: _count(pool, 1))

    assert listed == 0
    # FastStream logs to stdout too; the listing is the line that is a JSON array.
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    letters = json.loads(line)
    assert [(d["partition"], d["offset"], d["reason"]) for d in letters] == [
        (0, 0, "handler_failed")
    ]
    assert await effects(pool) == [event.id]


async def new_topic_named(servers: Servers, name: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=servers.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
