"""Publishing the chain head as a checkpoint, now and then, through the outbox; and checking
the log against the latest checkpoint published."""

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from aiokafka.errors import KafkaError

from schemas.audit import AuditCheckpointV1
from schemas.envelope import CloudEvent
from services.audit.domain.chain import Verification
from services.audit.domain.checkpoints import (
    Checkpoint,
    CheckpointStatus,
    compare,
    worth_publishing,
)
from services.audit.metrics import CHAIN_BROKEN, CHAIN_VERIFIED_AT, CHAIN_VERIFIED_ROWS
from services.audit.store import checkpoints, log
from services.audit.usecases.recording import SOURCE, NewId
from services.audit.usecases.verify import verify_chain, verify_in_stretches
from services.plumbing import outbox
from services.plumbing.database import DATABASE_ERRORS, Connection
from services.plumbing.outbox import sleep_unless

logger = logging.getLogger(__name__)


async def publish_checkpoint(
    connection: Connection, *, topic: str, now: dt.datetime, new_id: NewId
) -> AuditCheckpointV1 | None:
    """Enqueue the current chain head as a checkpoint, unless nothing worth one was logged
    since the last; None when nothing was published."""
    async with connection.transaction():
        head = await log.head(connection)
        last = await checkpoints.last_published(connection)
        new_rows = last is None or await checkpoints.logged_since(
            connection, last, besides_type=AuditCheckpointV1.ce_type
        )
        if head.row_hash is None or not worth_publishing(head.sequence, last, new_rows):
            return None
        data = AuditCheckpointV1(
            sequence=head.sequence, row_hash=head.row_hash.hex(), occurred_at=now
        )
        event = CloudEvent.of(data, source=SOURCE, event_id=new_id(), time=now)
        # Another instance may have published this very head a moment ago.
        if not await checkpoints.save(
            connection,
            sequence=head.sequence,
            row_hash=head.row_hash,
            event_id=event.id,
            published_at=now,
        ):
            return None
        await outbox.enqueue(connection, event, topic)
        return data


@dataclass(frozen=True)
class CheckpointPublishing:
    """Where and how often the chain head is published."""

    bootstrap: str
    topic: str
    interval_s: float


async def run_checkpoints(
    pool: asyncpg.Pool,
    stop: asyncio.Event,
    settings: CheckpointPublishing,
    *,
    clock: Callable[[], dt.datetime],
) -> None:
    """Publish a checkpoint every `interval_s` until `stop`, once the database is migrated and
    the topic exists; failures are logged and tried again at the next turn."""
    topic_exists = False
    # The first after one interval: an instance that lives shorter publishes nothing.
    while not await sleep_unless(stop, settings.interval_s):
        try:
            async with pool.acquire() as connection:
                if not await checkpoints.migrated(connection):
                    continue
                if not topic_exists:
                    await checkpoints.ensure_topic(settings.bootstrap, settings.topic)
                    topic_exists = True
                await publish_checkpoint(
                    connection, topic=settings.topic, now=clock(), new_id=uuid.uuid4
                )
        except (*DATABASE_ERRORS, KafkaError) as error:
            logger.warning("no checkpoint published this turn (%s)", type(error).__name__)


@dataclass(frozen=True)
class CheckedVerification:
    """The chain walked, and the log against the latest checkpoint published."""

    verification: Verification
    checkpoint: Checkpoint | None
    checkpoint_status: CheckpointStatus

    @property
    def ok(self) -> bool:
        """The chain holds and does not contradict the checkpoint (one that cannot be read
        contradicts nothing: the status says so)."""
        return self.verification.ok and self.checkpoint_status not in (
            CheckpointStatus.DIFFERS,
            CheckpointStatus.MISSING,
        )


async def verify_with_checkpoint(
    connection: Connection,
    *,
    bootstrap: str,
    topic: str,
    first: int | None = None,
    last: int | None = None,
    helper: "Connection | None" = None,
    progress: Callable[[int, int], None] | None = None,
) -> CheckedVerification:
    """Walk the chain (or a stretch), and compare the row at the latest checkpoint's sequence
    with the hash it published. The checkpoint is read first: a checkpoint published during
    the walk names a row the walk may not have reached. With `progress`, the walk goes a
    stretch at a time and tells it (rows walked, rows in all) after each."""

    async def walk() -> Verification:
        if progress is None:
            return await verify_chain(connection, first=first, last=last, helper=helper)
        return await verify_in_stretches(
            connection, first=first, last=last, helper=helper, progress=progress
        )

    try:
        checkpoint = await checkpoints.latest_on_topic(bootstrap, topic)
    except (KafkaError, OSError, TimeoutError) as error:
        logger.warning("the checkpoints cannot be read (%s)", type(error).__name__)
        return CheckedVerification(await walk(), None, CheckpointStatus.UNAVAILABLE)
    verification = await walk()
    if checkpoint is None:
        return CheckedVerification(verification, None, CheckpointStatus.NONE_PUBLISHED)
    in_log = await log.row_hash_at(connection, checkpoint.sequence)
    return CheckedVerification(verification, checkpoint, compare(checkpoint, in_log))


async def run_verifications(
    pool: asyncpg.Pool,
    stop: asyncio.Event,
    settings: CheckpointPublishing,
    *,
    interval_s: float,
    first_after_s: float = 10.0,
    wall_clock: Callable[[], float] = time.time,
) -> None:
    """Verify the whole chain against the latest checkpoint soon after the start and then
    every `interval_s` until `stop`, so that a broken chain raises an alert without anyone
    asking (the metrics in services/audit/metrics.py); failures are logged and tried again at
    the next turn."""
    wait = first_after_s
    while not await sleep_unless(stop, wait):
        wait = interval_s
        try:
            async with pool.acquire() as connection, pool.acquire() as helper:
                if not await checkpoints.migrated(connection):
                    wait = first_after_s
                    continue
                checked = await verify_with_checkpoint(
                    connection, bootstrap=settings.bootstrap, topic=settings.topic, helper=helper
                )
        except DATABASE_ERRORS as error:
            logger.warning("the chain was not verified this turn (%s)", type(error).__name__)
            continue
        CHAIN_BROKEN.set(0 if checked.ok else 1)
        CHAIN_VERIFIED_AT.set(wall_clock())
        CHAIN_VERIFIED_ROWS.set(checked.verification.verified_rows)
        if not checked.ok:
            logger.error(
                "the audit chain does not hold: first bad sequence %s (%s), checkpoint %s",
                checked.verification.first_bad_sequence,
                None
                if checked.verification.problem is None
                else checked.verification.problem.value,
                checked.checkpoint_status.value,
            )
