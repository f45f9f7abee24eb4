"""Consuming events at least once, with every effect exactly once.

A batch of records is handled in one database transaction:
- each record is decoded (CloudEvents binary mode) and validated against its event type's
  model; what fails goes to the dead-letter topic with the reason;
- one statement writes the inbox rows (consumer group, event id) of the batch; an event whose
  row was there already was handled before and is skipped;
- the handlers run (or, when the consumer has one, a batch handler runs once over all the new
  events, for handlers whose work is cheaper in bulk); if one fails, the transaction is
  rolled back and the batch done again with each event's handler in a savepoint, up to
  `attempts` times; an event whose handler keeps failing
  goes to the dead-letter topic and the inbox says so. A handler that raises `Unprocessable`
  says that trying again cannot help: that event goes to the dead-letter topic at once.
The offsets move (FastStream acknowledges the batch) only after the transaction committed;
if anything breaks before that (database or Kafka unreachable), the batch is not
acknowledged and comes again, and the inbox keeps the redelivery from acting twice.
"""

import asyncio
import datetime as dt
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from opentelemetry import propagate, trace
from opentelemetry.context import Context

from schemas.dead_letters import DeadLetterReason as Reason
from schemas.envelope import CloudEvent, EventData
from schemas.errors import SchemaViolation, UnknownEventType
from schemas.registry import parse as parse_any
from services.plumbing.binding import UndecodableRecord, from_record
from services.plumbing.database import Connection
from services.plumbing.dead_letters import DeadLetterPublisher
from services.plumbing.telemetry import CONSUMED, CONSUMER_LAG, DEAD_LETTERS

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

Handler = Callable[[Connection, EventData, CloudEvent], Awaitable[None]]
# Does for a batch's new events, in their order, what Handler does for each: the same effects
# as calling Handler on each in turn (the careful path, one savepoint per event, calls that).
BatchHandler = Callable[[Connection, Sequence[tuple[EventData, CloudEvent]]], Awaitable[None]]
Parse = Callable[[CloudEvent], EventData]
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"

# Failures of the infrastructure, not of the event: never dead-letter for these; let the
# batch come again once the database answers.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.CannotConnectNowError,
)


class Unprocessable(Exception):
    """The event can never be handled as it is (no retry would help): it goes to the
    dead-letter topic at once, with this error's class and message as the reason. The message
    is read by operators: it must carry no identity number, name or free text."""


@dataclass(frozen=True)
class ConsumerSpec:
    """A service's declaration of one consumer: what `create_service_app` runs as an
    EventConsumer on the service's pool, broker and dead-letter topic."""

    topic: str
    group: str
    handler: Handler
    # Raises UnknownEventType or SchemaViolation; by default every type of the contract.
    parse: Parse = parse_any
    attempts: int = 3
    batch_handler: BatchHandler | None = None


class _HandlerFailed(Exception):
    """A handler failed in the fast path; the batch is done again with savepoints."""


@dataclass
class BatchResult:
    """What became of a batch's records (or, summed, of all a consumer has seen)."""

    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    reasons: Counter[Reason] = field(default_factory=Counter)

    def add(self, other: "BatchResult") -> None:
        self.handled += other.handled
        self.duplicates += other.duplicates
        self.dead_lettered += other.dead_lettered
        self.reasons.update(other.reasons)


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
    batch_handler: BatchHandler | None = None
    retry_pause_s: float = 0.05
    infrastructure_pause_s: float = 1.0
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    # Totals over committed batches only.
    totals: BatchResult = field(default_factory=BatchResult)

    @classmethod
    def of(
        cls,
        spec: ConsumerSpec,
        *,
        pool: asyncpg.Pool,
        dead_letters: DeadLetterPublisher,
        group: str | None = None,
    ) -> "EventConsumer":
        """The consumer a service's spec declares (in a group of its own if `group`)."""
        return cls(
            topic=spec.topic,
            group=group or spec.group,
            pool=pool,
            handler=spec.handler,
            parse=spec.parse,
            dead_letters=dead_letters,
            attempts=spec.attempts,
            batch_handler=spec.batch_handler,
        )

    async def handle_batch(self, records: Sequence[Record]) -> BatchResult:
        result = BatchResult()
        events = [decoded for record in records if (decoded := await self._decode(record, result))]
        async with self.pool.acquire() as connection:
            try:
                # The usual case: every handler succeeds, one transaction, no savepoints.
                async with connection.transaction():
                    applied = await self._apply(connection, events, careful=False)
            except _HandlerFailed:
                # Some handler failed: do the batch again, each event in its own savepoint.
                async with connection.transaction():
                    applied = await self._apply(connection, events, careful=True)
        result.add(applied)
        self.totals.add(result)
        for outcome, count in (
            ("handled", result.handled),
            ("duplicate", result.duplicates),
            ("dead_lettered", result.dead_lettered),
        ):
            if count:
                CONSUMED.labels(self.topic, self.group, outcome).inc(count)
        return result

    async def _decode(
        self, record: Record, result: BatchResult
    ) -> tuple[Record, CloudEvent, EventData] | None:
        """The record's event and its data, or None when it went to the dead letters."""
        try:
            event = from_record(record.key, record.value, record.headers)
        except UndecodableRecord as error:
            await self._dead_letter(record, Reason.UNDECODABLE, error, 0, result)
            return None
        try:
            return record, event, self.parse(event)
        except UnknownEventType as error:
            await self._dead_letter(record, Reason.UNKNOWN_TYPE, error, 0, result)
        except SchemaViolation as error:
            await self._dead_letter(record, Reason.SCHEMA_VIOLATION, error, 0, result)
        return None

    async def _apply(
        self,
        connection: Connection,
        events: list[tuple[Record, CloudEvent, EventData]],
        *,
        careful: bool,
    ) -> BatchResult:
        result = BatchResult()
        # One statement marks the whole batch seen; what it returns is new (or a replayed
        # dead letter), the rest was handled before.
        ids = list(dict.fromkeys(event.id for _, event, _ in events))
        fresh = {
            row["event_id"]
            for row in await connection.fetch(
                """INSERT INTO inbox (consumer_group, event_id, outcome)
                   SELECT $1, unnest($2::uuid[]), 'handled'
                   ON CONFLICT (consumer_group, event_id) DO UPDATE
                       SET outcome = 'handled', handled_at = clock_timestamp()
                       WHERE inbox.outcome = 'dead_lettered'  -- replayed: try again
                   RETURNING event_id""",
                self.group,
                ids,
            )
        }
        new: list[tuple[Record, CloudEvent, EventData]] = []
        for record, event, data in events:
            if event.id not in fresh:
                result.duplicates += 1
                continue
            fresh.discard(event.id)  # the same event twice in one batch counts once
            new.append((record, event, data))
        if careful:
            for record, event, data in new:
                with self._span(record, event):
                    await self._handle_carefully(connection, record, event, data, result)
            return result
        try:
            if self.batch_handler is not None and new:
                # One event alone continues its own trace; several are linked to theirs.
                with self._span(*new[0][:2]) if len(new) == 1 else self._batch_span(new):
                    await self.batch_handler(connection, [(data, event) for _, event, data in new])
            else:
                for record, event, data in new:
                    with self._span(record, event):
                        await self.handler(connection, data, event)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as error:
            raise _HandlerFailed from error
        result.handled += len(new)
        return result

    def _span(self, record: Record, event: CloudEvent) -> "AbstractContextManager[trace.Span]":
        """The consume span, a child of the event's create span (W3C trace context)."""
        return tracer.start_as_current_span(
            f"{record.topic} process",
            context=_trace_context(record),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": record.topic,
                "messaging.consumer.group.name": self.group,
                "messaging.message.id": str(event.id),
                "messaging.kafka.offset": record.offset,
            },
        )

    @contextmanager
    def _batch_span(self, new: list[tuple[Record, CloudEvent, EventData]]) -> Iterator[trace.Span]:
        """One process span for a batch handled at once, linked to each event's create span
        (the OpenTelemetry messaging conventions for batches); the links are read from the
        records only when the span is recorded."""
        with tracer.start_as_current_span(
            f"{self.topic} process",
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": self.topic,
                "messaging.consumer.group.name": self.group,
                "messaging.batch.message_count": len(new),
            },
        ) as span:
            if span.is_recording():
                for record, _, _ in new:
                    creator = trace.get_current_span(_trace_context(record)).get_span_context()
                    if creator.is_valid:
                        span.add_link(creator)
            yield span

    async def _handle_carefully(
        self,
        connection: Connection,
        record: Record,
        event: CloudEvent,
        data: EventData,
        result: BatchResult,
    ) -> None:
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
                if attempt == self.attempts or isinstance(error, Unprocessable):
                    await connection.execute(
                        """UPDATE inbox SET outcome = 'dead_lettered'
                           WHERE consumer_group = $1 AND event_id = $2""",
                        self.group,
                        event.id,
                    )
                    reason = (
                        Reason.UNPROCESSABLE
                        if isinstance(error, Unprocessable)
                        else Reason.HANDLER_FAILED
                    )
                    await self._dead_letter(record, reason, error, attempt, result)
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
        result.reasons[reason] += 1
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


def _trace_context(record: Record) -> Context:
    """The trace context the record's headers carry (W3C traceparent)."""
    return propagate.extract(
        {name: value.decode(errors="replace") for name, value in record.headers}
    )


async def _undecoded(message: StreamMessage[Any]) -> None:
    """Leave the body alone; the handler reads the raw records."""
    return None
