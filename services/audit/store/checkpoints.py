"""Checkpoints where they are kept: what this service published (in its database, so that one
head is not published twice) and what is on the audit topic (outside the database, which is
what a verification trusts)."""

import datetime as dt
import time
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas.audit import AuditCheckpointV1
from schemas.errors import SchemaViolation, UnknownEventType
from schemas.registry import parse
from services.audit.domain.checkpoints import Checkpoint
from services.plumbing.binding import UndecodableRecord, from_record
from services.plumbing.database import Connection
from services.plumbing.kafka import partitions_of

# How long reading the topic may take before it counts as not answering.
READ_TIMEOUT_S = 10.0
# How far back from the end of the topic to look for the latest checkpoint at first (the end
# may be transaction markers, or events of another type).
_WINDOW = 64


async def migrated(connection: Connection) -> bool:
    """Whether the checkpoints' table exists yet (the service migrates in the background)."""
    found: bool = await connection.fetchval("SELECT to_regclass('audit_checkpoints') IS NOT NULL")
    return found


async def last_published(connection: Connection) -> int | None:
    """The sequence of the latest checkpoint this service published."""
    found: int | None = await connection.fetchval("SELECT max(sequence) FROM audit_checkpoints")
    return found


async def logged_since(connection: Connection, sequence: int, *, besides_type: str) -> bool:
    """Whether the log has a row after `sequence` whose type is not `besides_type`."""
    found: bool = await connection.fetchval(
        """SELECT EXISTS (SELECT FROM audit_log
                          WHERE sequence > $1 AND type IS DISTINCT FROM $2)""",
        sequence,
        besides_type,
    )
    return found


async def save(
    connection: Connection,
    *,
    sequence: int,
    row_hash: bytes,
    event_id: uuid.UUID,
    published_at: dt.datetime,
) -> bool:
    """Record a checkpoint as published; False when that head was published already."""
    saved = await connection.fetchval(
        """INSERT INTO audit_checkpoints (sequence, row_hash, event_id, published_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (sequence) DO NOTHING
           RETURNING sequence""",
        sequence,
        row_hash,
        event_id,
        published_at,
    )
    return saved is not None


async def ensure_topic(bootstrap: str, topic: str) -> None:
    """Create the checkpoint topic (one partition) when the broker does not have it: the
    outbox relay cannot publish to a topic that does not exist."""
    if await partitions_of(bootstrap, topic):
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def latest_on_topic(bootstrap: str, topic: str) -> Checkpoint | None:
    """The checkpoint with the highest sequence among the last ones on `topic` (committed
    records only); None when there is none."""
    partitions = await partitions_of(bootstrap, topic)
    if not partitions:
        return None
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[Checkpoint] = []
        for partition in partitions:
            window = _WINDOW
            while True:
                begin = max(starts[partition], ends[partition] - window)
                found.extend(await _read(consumer, partition, begin, ends[partition]))
                if found or begin == starts[partition]:
                    break
                window *= 4
        return max(found, key=lambda checkpoint: checkpoint.sequence, default=None)
    finally:
        await consumer.stop()


async def _read(
    consumer: AIOKafkaConsumer, partition: TopicPartition, begin: int, end: int
) -> list[Checkpoint]:
    found: list[Checkpoint] = []
    consumer.seek(partition, begin)
    deadline = time.monotonic() + READ_TIMEOUT_S
    while begin < end and await consumer.position(partition) < end:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{partition.topic} could not be read to its end in time")
        batches = await consumer.getmany(partition, timeout_ms=1000)
        for record in batches.get(partition, []):
            if record.offset >= end:
                break
            try:
                event = from_record(record.key, record.value, record.headers)
                data = parse(event)
            except (UndecodableRecord, UnknownEventType, SchemaViolation):
                continue
            if isinstance(data, AuditCheckpointV1):
                found.append(Checkpoint.of(event.id, data))
    return found
