"""Dead letters: a record that cannot be handled goes, bytes and headers unchanged, to its
topic's dead-letter topic with the reason in `dlq.*` headers; it can be listed and replayed."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from schemas.dead_letters import DeadLetterReason
from services.plumbing.kafka import partitions_of

REASON_PREFIX = "dlq."
MAX_MESSAGE = 500


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


def reason_headers(
    record: "ConsumerRecord[bytes, bytes]",
    *,
    reason: DeadLetterReason,
    error: BaseException,
    attempts: int,
    group: str,
    now: dt.datetime,
) -> list[tuple[str, bytes]]:
    reasons = {
        "reason": reason.value,
        "error_class": type(error).__name__,
        "error_message": str(error)[:MAX_MESSAGE],
        "source_topic": record.topic,
        "source_partition": str(record.partition),
        "source_offset": str(record.offset),
        "attempts": str(attempts),
        "consumer_group": group,
        "failed_at": now.isoformat(),
    }
    return [(f"{REASON_PREFIX}{name}", value.encode()) for name, value in reasons.items()]


class DeadLetterPublisher:
    """Publishes dead letters with an idempotent producer; the caller awaits the broker's ack
    before it lets the consumer's offset move past the record."""

    def __init__(self, bootstrap: str, client_id: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, client_id=client_id, enable_idempotence=True, acks="all"
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(
        self,
        record: "ConsumerRecord[bytes, bytes]",
        *,
        reason: DeadLetterReason,
        error: BaseException,
        attempts: int,
        group: str,
        now: dt.datetime,
    ) -> None:
        headers = [
            *[(name, value) for name, value in record.headers],
            *reason_headers(
                record, reason=reason, error=error, attempts=attempts, group=group, now=now
            ),
        ]
        delivery = await self._producer.send(
            dead_letter_topic(record.topic), value=record.value, key=record.key, headers=headers
        )
        await delivery


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic, as `overgang dead-letters list` shows it."""

    offset: int
    partition: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    @property
    def reason(self) -> dict[str, str]:
        return {
            name.removeprefix(REASON_PREFIX): value.decode(errors="replace")
            for name, value in self.headers
            if name.startswith(REASON_PREFIX)
        }

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(name, value) for name, value in self.headers if not name.startswith(REASON_PREFIX)]


async def read_dead_letters(bootstrap: str, topic: str, *, limit: int = 1000) -> list[DeadLetter]:
    """Everything on `topic`'s dead-letter topic, oldest first (read without a group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = await partitions_of(bootstrap, dead_letter_topic(topic))
        if not assigned:
            return []
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        found: list[DeadLetter] = []
        while len(found) < limit and await _behind(consumer, ends):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                found.extend(
                    DeadLetter(r.offset, r.partition, r.key, r.value, list(r.headers))
                    for r in records
                )
        return sorted(found, key=lambda d: (d.partition, d.offset))[:limit]
    finally:
        await consumer.stop()


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    return any([await consumer.position(p) < end for p, end in ends.items()])


async def replay(bootstrap: str, topic: str, chosen: Sequence[DeadLetter]) -> int:
    """Publish the chosen dead letters to their source topic again, as they first came."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for letter in chosen:
            await (
                await producer.send(
                    topic, value=letter.value, key=letter.key, headers=letter.original_headers
                )
            )
    finally:
        await producer.stop()
    return len(chosen)
