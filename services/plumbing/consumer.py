"""Consuming events at least once, with every effect exactly once.

A batch of records is handled in one database transaction. For each record:
- it is decoded (CloudEvents binary mode) and validated against its event type's model;
  what fails goes to the dead-letter topic with the reason;
- the inbox row (consumer group, event id) is written; if it was there already the event was
  handled before and is skipped;
- the handler runs in a savepoint, up to `attempts` times; if it keeps failing the event goes
  to the dead-letter topic and the inbox says so.
The offsets move (FastStream acknowledges the batch) only after the transaction committed;
if anything breaks before that (database or Kafka unreachable), the batch is not
acknowledged and comes again, and the inbox keeps the redelivery from acting twice.
"""

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from opentelemetry import propagate, trace

from schemas.envelope import CloudEvent, EventData
from schemas.errors import SchemaViolation, UnknownEventType
from services.plumbing.binding import UndecodableRecord, from_record
from services.plumbing.database import Connection
from services.plumbing.dead_letters import DeadLetterPublisher, Reason
from services.plumbing.telemetry import CONSUMED, CONSUMER_LAG, DEAD_LETTERS

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

Handler = Callable[[Connection, EventData, CloudEvent], Awaitable[None]]
Parse = Callable[[CloudEvent], EventData]
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"

# Failures of the infrastructure, not of the event: never dead-letter for these; let the
# batch come again once the database answers.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.CannotConnectNowError,
)


@dataclass
class BatchResult:
    """What became of a batch's records (or, summed, of all a consumer has seen)."""

    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    reasons: list[Reason] = field(default_factory=list)

    def add(self, other: "BatchResult") -> None:
        self.handled += other.handled
        self.duplicates += other.duplicates
        self.dead_lettered += other.dead_lettered
        self.reasons.extend(other.reasons)


@dataclass
class EventConsumer:
    """Handles the events of one topic for one consumer group."""

    topic: str
    group: str
    pool: asyncpg.Pool
    handler: Handler
    # Raises UnknownEventType or SchemaViolation, e.g. schemas.registry.parse.
    parse: Parse
    dead_letters: DeadLetterPublisher
    attempts: int = 3
    retry_pause_s: float = 0.05
    infrastructure_pause_s: float = 1.0
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    # Totals over committed batches only.
    totals: BatchResult = field(default_factory=BatchResult)

    async def handle_batch(self, records: Sequence[Record]) -> BatchResult:
        result = BatchResult()
        async with self.pool.acquire() as connection, connection.transaction():
            for record in records:
                await self._handle(connection, record, result)
        self.totals.add(result)
        for outcome, count in (
            ("handled", result.handled),
            ("duplicate", result.duplicates),
            ("dead_lettered", result.dead_lettered),
        ):
            if count:
                CONSUMED.labels(self.topic, self.group, outcome).inc(count)
        return result

    async def _handle(self, connection: Connection, record: Record, result: BatchResult) -> None:
        try:
            event = from_record(record.key, record.value, record.headers)
        except UndecodableRecord as error:
            await self._dead_letter(record, Reason.UNDECODABLE, error, 0, result)
            return
        try:
            data = self.parse(event)
        except UnknownEventType as error:
            await self._dead_letter(record, Reason.UNKNOWN_TYPE, error, 0, result)
            return
        except SchemaViolation as error:
            await self._dead_letter(record, Reason.SCHEMA_VIOLATION, error, 0, result)
            return

        first_time = await connection.fetchval(
            """INSERT INTO inbox (consumer_group, event_id, outcome) VALUES ($1, $2, 'handled')
               ON CONFLICT (consumer_group, event_id) DO UPDATE
                   SET outcome = 'handled', handled_at = clock_timestamp()
                   WHERE inbox.outcome = 'dead_lettered'  -- a replayed dead letter: try again
               RETURNING true""",
            self.group,
            event.id,
        )
        if not first_time:
            result.duplicates += 1
            return

        context = propagate.extract(
            {name: value.decode(errors="replace") for name, value in record.headers}
        )
        with tracer.start_as_current_span(
            f"{record.topic} process",
            context=context,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.consumer.group.name": self.group,
                "messaging.message.id": str(event.id),
                "messaging.kafka.offset": record.offset,
            },
        ):
            for attempt in range(1, self.attempts + 1):
                try:
                    async with connection.transaction():  # a savepoint: undo this try only
                        await self.handler(connection, data, event)
                except INFRASTRUCTURE_ERRORS:
                    raise
                except Exception as error:
                    log.warning(
                        "handler failed on %s (attempt %d of %d): %s",
                        event.id,
                        attempt,
                        self.attempts,
                        type(error).__name__,
                    )
                    if attempt == self.attempts:
                        await connection.execute(
                            """UPDATE inbox SET outcome = 'dead_lettered'
                               WHERE consumer_group = $1 AND event_id = $2""",
                            self.group,
                            event.id,
                        )
                        await self._dead_letter(
                            record, Reason.HANDLER_FAILED, error, attempt, result
                        )
                        return
                    await asyncio.sleep(self.retry_pause_s * attempt)
                else:
                    result.handled += 1
                    return

    async def _dead_letter(
        self,
        record: Record,
        reason: Reason,
        error: BaseException,
        attempts: int,
        result: BatchResult,
    ) -> None:
        log.warning(
            "dead-lettering %s[%d]@%d: %s (%s)",
            record.topic,
            record.partition,
            record.offset,
            reason.value,
            type(error).__name__,
        )
        await self.dead_letters.publish(
            record,
            reason=reason,
            error=error,
            attempts=attempts,
            group=self.group,
            now=self.clock(),
        )
        result.dead_lettered += 1
        result.reasons.append(reason)
        DEAD_LETTERS.labels(record.topic, reason.value).inc()

    def _measure_lag(self, consumer: Any, records: Sequence[Record]) -> None:
        last: dict[int, int] = {}
        for record in records:
            last[record.partition] = max(record.offset, last.get(record.partition, -1))
        for partition, offset in last.items():
            highwater = consumer.highwater(TopicPartition(self.topic, partition))
            if highwater is not None:
                CONSUMER_LAG.labels(self.topic, self.group, str(partition)).set(
                    highwater - offset - 1
                )

    def subscribe(self, broker: KafkaBroker, *, max_records: int = 500) -> None:
        """Register this consumer on a FastStream broker: batches, acknowledged after the
        transaction (NACK_ON_ERROR: an exception rewinds the batch for redelivery)."""

        async def consume(message: KafkaMessage) -> None:
            raw: Any = message.raw_message
            records: tuple[Record, ...] = raw if isinstance(raw, tuple) else (raw,)
            try:
                await self.handle_batch(records)
            except INFRASTRUCTURE_ERRORS:
                # The batch comes again (NACK); don't spin while the database is away.
                await asyncio.sleep(self.infrastructure_pause_s)
                raise
            self._measure_lag(message.consumer, records)

        broker.subscriber(
            self.topic,
            group_id=self.group,
            batch=True,
            max_records=max_records,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            # Only what a relay's Kafka transaction committed; aborted batches stay unseen.
            isolation_level="read_committed",
            title=f"{self.group}:{self.topic}",
            # Decoding is ours (see _handle): FastStream's own would fail on bad bytes before
            # the handler runs, and the batch would come again for ever.
            decoder=_undecoded,
        )(consume)


async def _undecoded(message: StreamMessage[Any]) -> None:
    """Leave the body alone; the handler reads the raw records."""
    return None
