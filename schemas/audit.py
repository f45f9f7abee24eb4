"""Audit events: the head of the audit log's hash chain, published outside the database so
that a rewrite of the whole log (every hash recomputed) is detectable too."""

from typing import ClassVar

from pydantic import AwareDatetime, Field

from schemas.envelope import EventData
from schemas.topics import AUDIT, Topic

# Far beyond any log: one event a microsecond for a thousand centuries stays below it.
LARGEST_SEQUENCE = 2**62


class AuditCheckpointV1(EventData):
    """The audit log's chain head at a moment: its last sequence number and that row's hash."""

    ce_type: ClassVar[str] = "no.overgang.audit.checkpoint.v1"
    topic: ClassVar[Topic] = AUDIT

    sequence: int = Field(
        ge=1, le=LARGEST_SEQUENCE, description="the last sequence number of the log"
    )
    row_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="the SHA-256 row hash of that row, in lowercase hex",
    )
    occurred_at: AwareDatetime = Field(description="when the head was read")
