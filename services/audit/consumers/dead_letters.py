"""Dead-letter topics into the audit log: every record another consumer could not handle is
logged with its reason (the dlq.* headers), whether or not it can be decoded.

The plumbing's EventConsumer cannot do this: it decodes CloudEvents before its handler runs
(and dead-letters what it cannot decode, which here would only move the record to a
`.dlq.dlq` topic nobody reads), and its handlers never see the record's headers, where the
reason is. So this consumer reads raw records, with the same guarantees: a batch is one
transaction with the inbox (keyed by the entry id, which comes from the record's place on the
dead-letter topic), and the offsets move only after it committed."""

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from services.audit.domain.chain import Entry
from services.audit.domain.entries import dead_letter_entry
from services.audit.usecases.ingest import record_dead_letter
from services.plumbing.binding import UndecodableRecord, from_record
from services.plumbing.consumer import INFRASTRUCTURE_ERRORS
from services.plumbing.database import DATABASE_ERRORS
from services.plumbing.kafka import metadata_answers
from services.plumbing.outbox import sleep_unless

log = logging.getLogger(__name__)

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


@dataclass
class DeadLetterConsumer:
    """Logs the records of one dead-letter topic for one consumer group."""

    topic: str
    group: str
    pool: asyncpg.Pool
    # The records come from an inbound topic: they may carry identity numbers.
    inbound: bool
    clock: Callable[[], dt.datetime]
    infrastructure_pause_s: float = 1.0
    logged: int = 0

    def entry_of(self, record: Record) -> Entry:
        try:
            event = from_record(record.key, record.value, record.headers)
        except UndecodableRecord:
            event = None
        return dead_letter_entry(
            event=event,
            value=record.value,
            headers=record.headers,
            dead_letter_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            inbound=self.inbound,
            recorded_at=self.clock(),
        )

    async def handle_batch(self, records: Sequence[Record]) -> int:
        """Log the batch's records; how many were new."""
        entries = [self.entry_of(record) for record in records]
        appended = 0
        async with self.pool.acquire() as connection, connection.transaction():
            fresh = {
                row["event_id"]
                for row in await connection.fetch(
                    """INSERT INTO inbox (consumer_group, event_id, outcome)
                       SELECT $1, unnest($2::uuid[]), 'handled'
                       ON CONFLICT (consumer_group, event_id) DO NOTHING
                       RETURNING event_id""",
                    self.group,
                    [entry.entry_id for entry in entries],
                )
            }
            for entry in entries:
                if entry.entry_id in fresh and await record_dead_letter(connection, entry):
                    appended += 1
        self.logged += appended
        return appended

    def subscribe(self, broker: KafkaBroker, *, max_records: int = 500) -> None:
        """Batches, acknowledged only after their transaction committed."""

        async def consume(message: KafkaMessage) -> None:
            raw: Any = message.raw_message
            records: tuple[Record, ...] = raw if isinstance(raw, tuple) else (raw,)
            try:
                await self.handle_batch(records)
            except INFRASTRUCTURE_ERRORS:
                await asyncio.sleep(self.infrastructure_pause_s)
                raise
            except Exception as error:
                # Nothing of a record can make logging it fail; this is the database.
                log.error("dead letters of %s not logged yet: %s", self.topic, type(error).__name__)
                await asyncio.sleep(self.infrastructure_pause_s)
                raise

        broker.subscriber(
            self.topic,
            group_id=self.group,
            batch=True,
            max_records=max_records,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            title=f"{self.group}:{self.topic}",
            decoder=_undecoded,
        )(consume)


async def _undecoded(message: StreamMessage[Any]) -> None:
    """Leave the body alone; the handler reads the raw records."""
    return None


class DeadLetterLogging:
    """The dead-letter consumers of the service, on a broker of their own: they start once
    the audit log's table exists and Kafka answers, and stop with the service."""

    def __init__(self, bootstrap: str, consumers: Sequence[DeadLetterConsumer]) -> None:
        self.bootstrap = bootstrap
        self.consumers = list(consumers)
        self.broker = self._broker()
        self.running = False

    def _broker(self) -> KafkaBroker:
        broker = KafkaBroker(self.bootstrap, client_id="overgang-audit-dead-letters")
        for consumer in self.consumers:
            consumer.subscribe(broker)
        return broker

    async def run(self, pool: asyncpg.Pool, stop: asyncio.Event, retry_s: float = 2.0) -> None:
        """Wait for the schema and Kafka, then start consuming; returns once consuming."""
        while not stop.is_set() and not await _log_exists(pool):
            await sleep_unless(stop, 0.2)
        while not stop.is_set():
            if await metadata_answers(self.bootstrap):
                try:
                    await self.broker.start()
                except (KafkaError, OSError) as error:
                    log.warning("dead-letter logging cannot start yet (%s)", type(error).__name__)
                    await self.broker.stop()
                    self.broker = self._broker()
                else:
                    self.running = True
                    return
            await sleep_unless(stop, retry_s)

    async def stop(self) -> None:
        self.running = False
        await self.broker.stop()


async def _log_exists(pool: asyncpg.Pool) -> bool:
    try:
        async with pool.acquire() as connection:
            return bool(await connection.fetchval("SELECT to_regclass('audit_log') IS NOT NULL"))
    except DATABASE_ERRORS:
        return False
