"""Checkpoints: the chain head (sequence number and row hash) published outside the database.

The chain alone shows a row changed, removed or inserted; it cannot show that the whole log
was rewritten, every hash recomputed. A checkpoint can: whoever rewrites the log cannot
rewrite what was published, so the row at a checkpoint's sequence must still have the hash
the checkpoint says."""

import datetime as dt
import uuid
from dataclasses import dataclass
from enum import StrEnum

from schemas.audit import AuditCheckpointV1


@dataclass(frozen=True)
class Checkpoint:
    """A published chain head."""

    event_id: uuid.UUID
    sequence: int
    row_hash: bytes
    occurred_at: dt.datetime

    @classmethod
    def of(cls, event_id: uuid.UUID, data: AuditCheckpointV1) -> "Checkpoint":
        return cls(event_id, data.sequence, bytes.fromhex(data.row_hash), data.occurred_at)


class CheckpointStatus(StrEnum):
    """How the log stands against the latest checkpoint."""

    MATCHES = "matches"  # the row at its sequence has the hash it published
    DIFFERS = "differs"  # that row has another hash: the log was rewritten from there or before
    MISSING = "missing"  # the log has no row at its sequence: rows were removed
    NONE_PUBLISHED = "none_published"  # no checkpoint was published yet
    UNAVAILABLE = "unavailable"  # the checkpoints could not be read (Kafka did not answer)


def compare(checkpoint: Checkpoint, row_hash_in_log: bytes | None) -> CheckpointStatus:
    """The log's row hash at the checkpoint's sequence (None: no such row) against it."""
    if row_hash_in_log is None:
        return CheckpointStatus.MISSING
    if row_hash_in_log != checkpoint.row_hash:
        return CheckpointStatus.DIFFERS
    return CheckpointStatus.MATCHES


def worth_publishing(head_sequence: int, last_published: int | None, new_rows: bool) -> bool:
    """A head is published when the log has rows and some were logged since the last checkpoint
    (other than checkpoints themselves, which the audit service logs too: else every
    checkpoint would call for the next)."""
    if head_sequence == 0:
        return False
    return last_published is None or (head_sequence > last_published and new_rows)
