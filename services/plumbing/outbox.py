"""Transactional outbox: `enqueue` writes an event in the caller's transaction; `OutboxRelay`
publishes what was written, in order per key, and marks it sent once Kafka has it.

How the relay keeps every key's order and loses nothing:
- one relay at a time is the leader (a PostgreSQL advisory lock held by its connection);
  the others stand by and take over when the leader's connection ends;
- it reads unsent rows by position, never "after the last position seen": a row committed
  late with a lower position is simply read in the next round (and `outbox_enqueue` makes a
  key's positions follow commit order);
- each batch is one Kafka transaction, marked sent only after the commit; a failed batch is
  aborted (read_committed consumers never see it) and sent again whole;
- the same Kafka transaction records which outbox positions it carries (as the metadata of
  an offset commit of the relay's own group), so a relay that died after Kafka committed but
  before the rows were marked sent is recovered by the next leader without a duplicate;
- all relays of a service share one transactional id, so a new leader fences a zombie one.
"""

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer, OffsetAndMetadata, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from opentelemetry import propagate, trace

from schemas.envelope import CloudEvent
from services.plumbing.binding import to_record
from services.plumbing.database import Connection
from services.plumbing.telemetry import OUTBOX_OLDEST_UNSENT_AGE, OUTBOX_PUBLISHED, OUTBOX_UNSENT

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


async def enqueue(connection: Connection, event: CloudEvent, topic: str) -> None:
    """Write `event` to the outbox as part of the caller's open transaction."""
    if not connection.is_in_transaction():
        raise RuntimeError("enqueue needs the transaction of the change the event describes")
    # The event's "create" span is saved with the row (W3C trace context headers), so whoever
    # consumes it continues the trace of the change that caused it.
    carrier: dict[str, str] = {}
    with tracer.start_as_current_span(
        f"{topic} create",
        kind=trace.SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "create",
            "messaging.destination.name": topic,
            "messaging.message.id": str(event.id),
        },
    ):
        propagate.inject(carrier)
    record = to_record(event)
    headers = {name: value.decode() for name, value in record.headers} | carrier
    await connection.execute(
        "SELECT outbox_enqueue($1, $2, $3, $4::jsonb, $5)",
        event.id,
        topic,
        event.partition_key,
        json.dumps(headers),
        record.value,
    )


@dataclass(frozen=True)
class RelaySettings:
    bootstrap: str
    # Shared by every relay of one service: a new leader fences the old one's producer.
    transactional_id: str
    batch_size: int = 2000
    poll_interval_s: float = 1.0
    retention_s: float = 7 * 24 * 3600
    prune_every_s: float = 300.0
    max_backoff_s: float = 5.0
    kafka_timeout_ms: int = 10_000
    # Which advisory lock elects the leader; one per service database.
    leader_lock: int = 0x6F75_7462_6F78  # "outbox"
    # A one-partition topic whose offset commits (by the transactional id as group) record
    # which positions the last committed batch carried. Nothing is ever produced to it.
    progress_topic: str = "overgang.outbox-progress"
    # Shown as the application_name of the relay's database session (who leads is visible
    # in pg_stat_activity joined with pg_locks).
    name: str = "outbox-relay"


class OutboxRelay:
    """Publishes the outbox of one database to Kafka until `stop` is set."""

    def __init__(self, database_url: str, settings: RelaySettings) -> None:
        self.database_url = database_url
        self.settings = settings
        self.published = 0
        # Set while this relay leads and publishes (after start-up and recovery).
        self.leading = asyncio.Event()
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            try:
                await self._lead(stop)
                backoff = 0.1
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError) as error:
                log.warning(
                    "outbox relay interrupted (%s: %s); retrying", type(error).__name__, error
                )
                await sleep_unless(stop, backoff)
                backoff = min(backoff * 2, self.settings.max_backoff_s)

    async def _lead(self, stop: asyncio.Event) -> None:
        connection = await asyncpg.connect(
            self.database_url, server_settings={"application_name": self.settings.name}
        )
        try:
            while not await connection.fetchval(
                "SELECT pg_try_advisory_lock($1)", self.settings.leader_lock
            ):
                if await sleep_unless(stop, self.settings.poll_interval_s):
                    return
            log.info("outbox relay is the leader")
            await connection.add_listener("outbox", self._on_notify)
            producer = await self._start_producer()
            # Marking sent runs beside the next batch's publishing, on a connection of its own.
            marker = await asyncpg.connect(self.database_url)
            try:
                await self._recover(connection)
                self.leading.set()
                await self._relay(connection, marker, producer, stop)
            finally:
                self.leading.clear()
                await producer.stop()
                await marker.close()
        finally:
            await connection.close()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap,
            client_id=self.settings.transactional_id,
            transactional_id=self.settings.transactional_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            max_batch_size=256 * 1024,
            request_timeout_ms=self.settings.kafka_timeout_ms,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def _recover(self, connection: Connection) -> None:
        """Mark sent what the last committed Kafka transaction carried (see the module doc)."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.settings.bootstrap,
            request_timeout_ms=self.settings.kafka_timeout_ms,
        )
        await admin.start()
        try:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(self.settings.progress_topic, num_partitions=1, replication_factor=1)]
                )
            committed = await admin.list_consumer_group_offsets(self.settings.transactional_id)
        finally:
            await admin.close()
        progress = committed.get(TopicPartition(self.settings.progress_topic, 0))
        if progress is None or not progress.metadata:
            return
        recovered = await connection.execute(
            """UPDATE outbox SET sent_at = clock_timestamp()
               WHERE position = ANY($1::bigint[]) AND sent_at IS NULL""",
            decode_positions(progress.metadata),
        )
        log.info("outbox relay recovered the last committed batch: %s", recovered)

    async def _relay(
        self,
        connection: Connection,
        marker: Connection,
        producer: AIOKafkaProducer,
        stop: asyncio.Event,
    ) -> None:
        pruned_at = time.monotonic()
        # The previous batch, committed to Kafka, being marked sent while the next is published.
        marking: asyncio.Task[None] | None = None
        marking_positions: list[int] = []
        try:
            while not stop.is_set():
                self._wake.clear()
                rows = await connection.fetch(
                    """SELECT position, event_id, topic, partition_key, headers::text, value
                       FROM outbox
                       WHERE sent_at IS NULL
                         -- a hashed subplan: cheap per row, unlike <> ALL(array)
                         AND position NOT IN (SELECT unnest($2::bigint[]))
                       ORDER BY position LIMIT $1""",
                    self.settings.batch_size,
                    marking_positions,
                )
                if rows:
                    rows = rows[: fitting(rows)]
                    positions = [row["position"] for row in rows]
                    await self._publish(producer, rows, positions, previous=marking)
                    marking = asyncio.create_task(self._mark_sent(marker, positions))
                    marking_positions = positions
                    continue
                if marking is not None:
                    await marking
                    marking, marking_positions = None, []
                    continue
                await self._measure(connection)
                if time.monotonic() - pruned_at > self.settings.prune_every_s:
                    await self.prune(connection)
                    pruned_at = time.monotonic()
                await _wait_for(self._wake, stop, self.settings.poll_interval_s)
        finally:
            if marking is not None:
                # If this fails, the batch was the last committed one: the next leader
                # recovers it from Kafka (see _recover).
                await asyncio.gather(marking, return_exceptions=True)

    async def _mark_sent(self, marker: Connection, positions: list[int]) -> None:
        await marker.execute(
            "UPDATE outbox SET sent_at = clock_timestamp() WHERE position = ANY($1::bigint[])",
            positions,
        )
        self.published += len(positions)
        OUTBOX_PUBLISHED.inc(len(positions))

    async def _publish(
        self,
        producer: AIOKafkaProducer,
        rows: list[asyncpg.Record],
        positions: list[int],
        *,
        previous: "asyncio.Task[None] | None",
    ) -> None:
        """One Kafka transaction: the batch, and which positions it carries. The previous batch
        must be marked sent before this one commits, so that only the last committed batch
        can ever be unmarked."""
        topics = sorted({row["topic"] for row in rows})
        with tracer.start_as_current_span(
            f"{topics[0] if len(topics) == 1 else 'outbox'} publish",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.batch.message_count": len(rows),
            },
        ):
            async with producer.transaction():
                await producer.send_offsets_to_transaction(
                    {
                        TopicPartition(self.settings.progress_topic, 0): OffsetAndMetadata(
                            max(positions), encode_positions(positions)
                        )
                    },
                    self.settings.transactional_id,
                )
                for row in rows:
                    headers: dict[str, str] = json.loads(row["headers"])
                    await producer.send(
                        row["topic"],
                        value=row["value"],
                        key=row["partition_key"].encode(),
                        headers=[(name, value.encode()) for name, value in headers.items()],
                    )
                if previous is not None:
                    await previous

    async def _measure(self, connection: Connection) -> None:
        row = await connection.fetchrow(
            """SELECT count(*) AS unsent,
                      extract(epoch FROM clock_timestamp() - min(enqueued_at)) AS oldest_age
               FROM outbox WHERE sent_at IS NULL"""
        )
        assert row is not None
        OUTBOX_UNSENT.set(row["unsent"])
        OUTBOX_OLDEST_UNSENT_AGE.set(float(row["oldest_age"] or 0))

    async def prune(self, connection: Connection) -> int:
        """Delete rows sent longer ago than the retention period; return how many."""
        result: str = await connection.execute(
            "DELETE FROM outbox WHERE sent_at < clock_timestamp() - make_interval(secs => $1)",
            self.settings.retention_s,
        )
        return int(result.split()[-1])


# Kafka keeps at most offset.metadata.max.bytes (4096 by default) of offset metadata.
MAX_PROGRESS_METADATA = 4000


def encode_positions(positions: list[int]) -> str:
    """Outbox positions as compact ranges: [1, 2, 3, 7] -> "1-3,7"."""
    ranges: list[str] = []
    ordered = sorted(positions)
    start = previous = ordered[0]
    for position in [*ordered[1:], None]:
        if position is not None and position == previous + 1:
            previous = position
            continue
        ranges.append(str(start) if start == previous else f"{start}-{previous}")
        if position is not None:
            start = previous = position
    return ",".join(ranges)


def decode_positions(text: str) -> list[int]:
    positions: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        positions.extend(range(int(first), int(last or first) + 1))
    return positions


def fitting(rows: list[asyncpg.Record]) -> int:
    """How many of `rows` (from the front) fit the offset metadata; gaps make ranges longer."""
    count = len(rows)
    while len(encode_positions([row["position"] for row in rows[:count]])) > MAX_PROGRESS_METADATA:
        count //= 2
    return count


async def sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, waking early if `stop` is set; True when it was."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def _wait_for(wake: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Wait for a NOTIFY, for `stop`, or at most `seconds` (the polling fallback)."""
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
