"""Outbox to Kafka: nothing lost, nothing doubled, every key in order, also under faults."""

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.local import kafka as local_kafka
from deploy.local.config import StackConfig
from deploy.local.processes import ProcessRecord
from services.plumbing.database import Connection
from services.plumbing.outbox import OutboxRelay, RelaySettings
from tests.conftest import NewTopicFactory
from tests.integration.plumbing.outbox_helpers import (
    assert_once_each_in_order,
    enqueue_numbered,
    read_topic,
    sent_count,
    wait_until_sent,
)
from tests.servers import Servers, free_port

pytestmark = pytest.mark.integration

EVENTS = 10_000
KEYS = 500


class RelayInProcess:
    def __init__(self, relay: OutboxRelay) -> None:
        self.relay = relay
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(relay.run(self.stop))

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


@pytest.fixture
async def relay_in_process() -> AsyncIterator[list[RelayInProcess]]:
    started: list[RelayInProcess] = []
    yield started
    for relay in started:
        await relay.close()


def _relay_process(
    database_url: str, bootstrap: str, transactional_id: str, name: str, log: Path
) -> subprocess.Popen[bytes]:
    """The relay in a process of its own, so that it can be killed mid-batch."""
    command = [
        sys.executable, "-m", "services.plumbing.relay_process",
        "--database-url", database_url, "--bootstrap", bootstrap,
        "--transactional-id", transactional_id, "--batch-size", "200", "--name", name,
    ]  # fmt: skip
    with log.open("ab") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)


@pytest.fixture
def relay_processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(30)


async def test_ten_thousand_events_reach_kafka_once_each_in_order_per_key(
    servers: Servers,
    new_topic: NewTopicFactory,
    database_url: str,
    transactional_id: str,
    relay_in_process: list[RelayInProcess],
) -> None:
    topic = await new_topic("outbox", partitions=6)
    await enqueue_numbered(database_url, topic, events=EVENTS, keys=KEYS)

    relay_in_process.append(
        RelayInProcess(
            OutboxRelay(database_url, RelaySettings(servers.kafka_bootstrap, transactional_id))
        )
    )
    await wait_until_sent(database_url, EVENTS)

    assert_once_each_in_order(
        await read_topic(servers.kafka_bootstrap, topic), events=EVENTS, keys=KEYS
    )


async def _leader(database_url: str) -> str | None:
    """The application_name of the relay session holding the leader lock."""
    connection = await asyncpg.connect(database_url)
    try:
        name: str | None = await connection.fetchval(
            """SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)
               WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'relay-%'"""
        )
        return name
    finally:
        await connection.close()


async def test_two_relays_and_a_killed_leader_still_give_each_event_once_in_order(
    servers: Servers,
    new_topic: NewTopicFactory,
    database_url: str,
    transactional_id: str,
    relay_processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    topic = await new_topic("outbox", partitions=6)
    await enqueue_numbered(database_url, topic, events=EVENTS, keys=KEYS)

    relays = {
        name: _relay_process(
            database_url, servers.kafka_bootstrap, transactional_id, name, tmp_path / f"{name}.log"
        )
        for name in ("relay-a", "relay-b")
    }
    relay_processes.extend(relays.values())
    # Kill the leader while it is part-way through, with batches in flight.
    await wait_until_sent(database_url, EVENTS // 4, poll_s=0.01)
    sent = await sent_count(database_url)
    leader = await _leader(database_url)
    assert leader in relays, f"no relay leads; logs in {tmp_path}"
    relays[leader].send_signal(signal.SIGKILL)
    relays[leader].wait(10)
    assert sent < EVENTS, "the relay finished before it could be killed; make the test harder"

    await wait_until_sent(database_url, EVENTS)

    assert await _leader(database_url) not in (None, leader)
    assert_once_each_in_order(
        await read_topic(servers.kafka_bootstrap, topic), events=EVENTS, keys=KEYS
    )


class PrivateKafka:
    """A broker of this test's own, so that stopping it disturbs no other test."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.process: ProcessRecord | None = None

    @property
    def bootstrap(self) -> str:
        return local_kafka.bootstrap_servers(self.config)

    async def start(self) -> None:
        self.process = await asyncio.to_thread(local_kafka.start, self.config)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


@pytest.fixture
async def private_kafka(tmp_path: Path) -> AsyncIterator[PrivateKafka]:
    broker = PrivateKafka(
        StackConfig(
            dir=tmp_path / "stack", kafka_port=free_port(), kafka_controller_port=free_port()
        )
    )
    await broker.start()
    yield broker
    broker.stop()


async def test_a_broker_outage_of_ten_seconds_loses_nothing_and_keeps_order(
    private_kafka: PrivateKafka,
    database_url: str,
    transactional_id: str,
    relay_in_process: list[RelayInProcess],
) -> None:
    events = EVENTS // 2
    topic = "outage.test"
    admin = AIOKafkaAdminClient(bootstrap_servers=private_kafka.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    await admin.close()
    settings = RelaySettings(
        private_kafka.bootstrap, transactional_id, batch_size=100, kafka_timeout_ms=3000
    )
    relay_in_process.append(RelayInProcess(OutboxRelay(database_url, settings)))

    # Events keep being written while the broker is away.
    writing = asyncio.create_task(
        enqueue_numbered(database_url, topic, events=events, keys=KEYS, per_transaction=5)
    )
    await wait_until_sent(database_url, 300, poll_s=0.05)
    private_kafka.stop()
    sent_when_stopped = await sent_count(database_url)
    await asyncio.sleep(10)
    assert await sent_count(database_url) == sent_when_stopped, (
        "rows marked sent while Kafka was down"
    )
    await private_kafka.start()
    await writing

    await wait_until_sent(database_url, events)

    assert_once_each_in_order(
        await read_topic(private_kafka.bootstrap, topic), events=events, keys=KEYS
    )


class Crash(Exception):
    """Stands for the relay process dying."""


class RelayDyingAfterKafkaCommit(OutboxRelay):
    """Dies in the worst place: the batch is committed to Kafka, the rows are not marked."""

    async def _publish(
        self,
        producer: AIOKafkaProducer,
        rows: list[asyncpg.Record],
        recorded: list[int],
        *,
        before_commit: "asyncio.Task[None] | None",
    ) -> None:
        await super()._publish(producer, rows, recorded, before_commit=before_commit)
        raise Crash


class RelayDyingWithTwoBatchesUnmarked(OutboxRelay):
    """Marks nothing (the database is slow to answer), then dies after its second batch is
    committed to Kafka: two committed batches are not marked sent."""

    batches = 0

    async def _mark_sent(self, marker: Connection, positions: list[int]) -> None:
        await asyncio.Event().wait()

    async def _publish(
        self,
        producer: AIOKafkaProducer,
        rows: list[asyncpg.Record],
        recorded: list[int],
        *,
        before_commit: "asyncio.Task[None] | None",
    ) -> None:
        await super()._publish(producer, rows, recorded, before_commit=before_commit)
        self.batches += 1
        if self.batches == 2:
            raise Crash


async def test_a_batch_kafka_committed_but_not_marked_sent_is_not_sent_again(
    servers: Servers, new_topic: NewTopicFactory, database_url: str, transactional_id: str
) -> None:
    topic = await new_topic("outbox", partitions=3)
    await enqueue_numbered(database_url, topic, events=300, keys=30)
    settings = RelaySettings(servers.kafka_bootstrap, transactional_id, batch_size=100)

    with pytest.raises(Crash):
        await RelayDyingAfterKafkaCommit(database_url, settings).run(asyncio.Event())
    assert await sent_count(database_url) == 0
    assert len(await read_topic(servers.kafka_bootstrap, topic)) == 100

    relay = RelayInProcess(OutboxRelay(database_url, settings))
    try:
        await wait_until_sent(database_url, 300)
    finally:
        await relay.close()

    assert_once_each_in_order(await read_topic(servers.kafka_bootstrap, topic), events=300, keys=30)


async def test_two_batches_kafka_committed_but_not_marked_sent_are_not_sent_again(
    servers: Servers, new_topic: NewTopicFactory, database_url: str, transactional_id: str
) -> None:
    topic = await new_topic("outbox", partitions=3)
    await enqueue_numbered(database_url, topic, events=300, keys=30)
    settings = RelaySettings(servers.kafka_bootstrap, transactional_id, batch_size=100)

    with pytest.raises(Crash):
        await RelayDyingWithTwoBatchesUnmarked(database_url, settings).run(asyncio.Event())
    assert await sent_count(database_url) == 0
    assert len(await read_topic(servers.kafka_bootstrap, topic)) == 200

    relay = RelayInProcess(OutboxRelay(database_url, settings))
    try:
        await wait_until_sent(database_url, 300)
    finally:
        await relay.close()

    assert_once_each_in_order(await read_topic(servers.kafka_bootstrap, topic), events=300, keys=30)


async def test_sent_rows_are_pruned_after_the_retention_period_and_unsent_rows_never(
    servers: Servers, new_topic: NewTopicFactory, database_url: str, transactional_id: str
) -> None:
    topic = await new_topic("prune", partitions=1)
    await enqueue_numbered(database_url, topic, events=30, keys=3)
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            """UPDATE outbox SET sent_at = clock_timestamp() - interval '8 days'
               WHERE position IN (SELECT position FROM outbox ORDER BY position LIMIT 10)"""
        )
        await connection.execute(
            """UPDATE outbox SET sent_at = clock_timestamp() - interval '1 day'
               WHERE position IN (SELECT position FROM outbox WHERE sent_at IS NULL
                                  ORDER BY position LIMIT 10)"""
        )
        relay = OutboxRelay(database_url, RelaySettings(servers.kafka_bootstrap, transactional_id))

        pruned = await relay.prune(connection)

        assert pruned == 10
        left = await connection.fetchrow(
            "SELECT count(*) FILTER (WHERE sent_at IS NULL) AS unsent, count(*) AS rows FROM outbox"
        )
        assert left is not None
        assert (left["unsent"], left["rows"]) == (10, 20)
    finally:
        await connection.close()
