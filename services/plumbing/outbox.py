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
- the same Kafka transaction records which outbox positions it and the batch before it carry
  (as the metadata of an offset commit of the relay's own group), and a batch commits only
  once the batch before those two is marked sent; so a relay that died after Kafka committed
  but before the rows were marked sent is recovered by the next leader without a duplicate,
  while marking one batch runs beside publishing the next two;
- all relays of a service share one transactional id, so a new leader fences a zombie one.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer, OffsetAndMetadata, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from opentelemetry import propagate, trace

from schemas.envelope import CloudEvent
from services.plumbing.binding import to_record
from services.plumbing.database import DATABASE_ERRORS, Connection
from services.plumbing.telemetry import OUTBOX_OLDEST_UNSENT_AGE, OUTBOX_PUBLISHED, OUTBOX_UNSENT

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


@dataclass(frozen=True)
class _Marking:
    """A batch committed to Kafka, being marked sent."""

    positions: list[int]
    task: "asyncio.Task[None]"


async def enqueue(connection: Connection, event: CloudEvent, topic: str) -> None:
    """Write `event` to the outbox as part of the caller's open transaction."""
    await enqueue_all(connection, [event], topic)


async def enqueue_all(connection: Connection, events: Sequence[CloudEvent], topic: str) -> None:
    """Write `events`, in order, to the outbox as part of the caller's open transaction (one
    round trip for them all)."""
    if not connection.is_in_transaction():
        raise RuntimeError("enqueue needs the transaction of the change the event describes")
    rows = []
    for event in events:
        # The event's "create" span is saved with the row (W3C trace context headers), so
        # whoever consumes it continues the trace of the change that caused it.
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
        rows.append((event.id, topic, event.partition_key, json.dumps(headers), record.value))
    if rows:
        await connection.executemany("SELECT outbox_enqueue($1, $2, $3, $4::jsonb, $5)", rows)


@dataclass(frozen=True)
class RelaySettings:
    bootstrap: str
    # Shared by every relay of one service: a new leader fences the old one's producer.
    transactional_id: str
    # Each batch is a Kafka transaction: its commit costs a few round trips whatever its size
    # (bench/backbone.py: relay/raw 0.56-0.61 at 2,000, 0.69 at 5,000, no better at 10,000).
    batch_size: int = 5000
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
            except (*DATABASE_ERRORS, KafkaError) as error:
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
        # Batches committed to Kafka and being marked sent, oldest first: at most two, and a
        # batch's Kafka transaction records its own positions and those of the one before, so
        # whatever Kafka committed but the database did not mark is in the last commit.
        marking: deque[_Marking] = deque()
        # The next batch, read while this one is published (without the rows in flight).
        reading: asyncio.Task[list[asyncpg.Record]] | None = None
        try:
            while not stop.is_set():
                self._wake.clear()
                while marking and marking[0].task.done():
                    marking.popleft().task.result()  # a failed mark ends this leadership
                in_flight = [position for batch in marking for position in batch.positions]
                if reading is None:
                    rows = await self._unsent(connection, in_flight)
                else:
                    rows, reading = await reading, None
                if rows:
                    carried = marking[-1].positions if marking else []
                    rows = rows[: fitting(rows, carried)]
                    positions = [row["position"] for row in rows]
                    reading = asyncio.create_task(self._unsent(connection, in_flight + positions))
                    # The oldest of two batches still being marked must be done before this
                    # one commits: the commit's record names only this batch and the last.
                    oldest = marking[0].task if len(marking) == 2 else None
                    await self._publish(producer, rows, carried + positions, before_commit=oldest)
                    after = marking[-1].task if marking else None
                    marking.append(
                        _Marking(
                            positions,
                            asyncio.create_task(self._mark_in_turn(marker, positions, after)),
                        )
                    )
                    continue
                if marking:
                    await asyncio.gather(*(batch.task for batch in marking))
                    marking.clear()
                    continue
                await self._measure(connection)
                if time.monotonic() - pruned_at > self.settings.prune_every_s:
                    await self.prune(connection)
                    pruned_at = time.monotonic()
                await _wait_for(self._wake, stop, self.settings.poll_interval_s)
        except BaseException:
            # Leadership ends on an error: what is left unmarked is in the last committed
            # Kafka transaction's record, and the next leader marks it (see _recover).
            unfinished = [batch.task for batch in marking] + ([reading] if reading else [])
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
            raise
        # Stopped: finish what is under way, so that the next leader has nothing to recover.
        await asyncio.gather(
            *(batch.task for batch in marking),
            *([reading] if reading else []),
            return_exceptions=True,
        )

    async def _unsent(self, connection: Connection, excluded: list[int]) -> list[asyncpg.Record]:
        """The next batch: unsent rows in position order, but for those being published or
        marked sent (their `sent_at` is not yet committed)."""
        # Positions first, then their rows: ordering the whole backlog with its values made
        # PostgreSQL sort megabytes on disk for every batch (bench/backbone.py found it).
        return await connection.fetch(
            """SELECT position, event_id, topic, partition_key, value,
                      coalesce(h.names, '{}') AS header_names,
                      coalesce(h.values, '{}') AS header_values
               FROM outbox,
                    -- the headers as names and bytes, ready for the producer
                    LATERAL (SELECT array_agg(key) AS names,
                                    array_agg(convert_to(value, 'UTF8')) AS values
                             FROM jsonb_each_text(headers)) AS h
               WHERE position = ANY(ARRAY(
                   SELECT position FROM outbox
                   WHERE sent_at IS NULL
                     -- a hashed subplan: cheap per row, unlike <> ALL(array)
                     AND position NOT IN (SELECT unnest($2::bigint[]))
                   ORDER BY position LIMIT $1))
               ORDER BY position""",
            self.settings.batch_size,
            excluded,
        )

    async def _mark_in_turn(
        self, marker: Connection, positions: list[int], after: "asyncio.Task[None] | None"
    ) -> None:
        """Mark a batch sent once the batch before it is marked: one connection, one
        statement at a time. (A failure of the one before is raised where it is awaited.)"""
        if after is not None:
            with contextlib.suppress(Exception):
                await after
        await self._mark_sent(marker, positions)

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
        recorded: list[int],
        *,
        before_commit: "asyncio.Task[None] | None",
    ) -> None:
        """One Kafka transaction: the batch's rows, and the `recorded` positions (this batch's
        and the previous one's) as its progress record. `before_commit` (marking the batch
        before the previous one) must end first, so that only the two batches in the last
        record can ever be committed to Kafka and unmarked."""
        topics = sorted({row["topic"] for row in rows})
        with tracer.start_as_current_span(
            f"{topics[0] if len(topics) == 1 else 'outbox'} publish",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.batch.message_count": len(rows),
            },
        ) as span:
            if span.is_recording():
                # Linked to each event's create span: the traces of the changes it publishes.
                for row in rows:
                    carrier = {
                        name: bytes(value).decode()
                        for name, value in zip(
                            row["header_names"], row["header_values"], strict=True
                        )
                        if name in ("traceparent", "tracestate")
                    }
                    creator = trace.get_current_span(propagate.extract(carrier))
                    if creator.get_span_context().is_valid:
                        span.add_link(creator.get_span_context())
            async with producer.transaction():
                await producer.send_offsets_to_transaction(
                    {
                        TopicPartition(self.settings.progress_topic, 0): OffsetAndMetadata(
                            max(recorded), encode_positions(recorded)
                        )
                    },
                    self.settings.transactional_id,
                )
                for row in rows:
                    await producer.send(
                        row["topic"],
                        value=row["value"],
                        key=row["partition_key"].encode(),
                        headers=list(zip(row["header_names"], row["header_values"], strict=True)),
                    )
                if before_commit is not None:
                    await before_commit

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


def fitting(rows: list[asyncpg.Record], carried: list[int]) -> int:
    """How many of `rows` (from the front) fit the offset metadata beside the `carried`
    positions of the previous batch; gaps make ranges longer."""
    count = len(rows)
    while (
        len(encode_positions(carried + [row["position"] for row in rows[:count]]))
        > MAX_PROGRESS_METADATA
    ):
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
