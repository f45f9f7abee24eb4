"""`/v1/audit/verify`: walk the chain (or a stretch of it) and say where it first breaks, and
whether the log still has the head its latest published checkpoint names."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.audit.api.deps import Auditor, Pool, only_query
from services.audit.domain.chain import Problem
from services.audit.domain.checkpoints import CheckpointStatus
from services.audit.usecases.checkpoints import CheckpointPublishing, verify_with_checkpoint

router = APIRouter(prefix="/v1/audit", tags=["audit log"])


class CheckpointRead(BaseModel):
    """The latest checkpoint published (on Kafka, outside the audit database)."""

    sequence: int = Field(description="the head it published")
    row_hash: str = Field(description="that row's hash then (hex)")
    occurred_at: dt.datetime = Field(description="when it was published")


class VerificationRead(BaseModel):
    """The outcome of a verification."""

    ok: bool = Field(
        description="every row walked holds, the log ends at its head, and it has the row "
        "hash its latest checkpoint published"
    )
    verified_rows: int = Field(description="how many rows were found good")
    head_sequence: int | None = Field(description="the last row found good")
    head_hash: str = Field(description="its row hash (hex): compare with a published checkpoint")
    first_bad_sequence: int | None = Field(description="the first row that does not hold")
    problem: Problem | None = Field(description="what is wrong there")
    checkpoint: CheckpointRead | None = Field(description="the latest checkpoint published")
    checkpoint_status: CheckpointStatus = Field(
        description="the log against it: matches, differs (rewritten), missing (rows removed), "
        "none_published, or unavailable (Kafka did not answer)"
    )


Sequence = Annotated[int | None, Query(ge=1, le=2**62, description="a sequence number")]


def _checkpoints(request: Request) -> CheckpointPublishing:
    publishing: CheckpointPublishing = request.app.state.checkpoints
    return publishing


@router.get(
    "/verify",
    response_model=VerificationRead,
    dependencies=[Depends(only_query("from", "to"))],
    summary="verify the hash chain",
)
async def verify(
    pool: Pool,
    caller: Auditor,
    checkpoints: Annotated[CheckpointPublishing, Depends(_checkpoints)],
    first: Annotated[Sequence, Query(alias="from")] = None,
    last: Annotated[Sequence, Query(alias="to")] = None,
) -> VerificationRead:
    """Hashes only, no personal data: any auditor may verify the whole log."""
    # Two connections: a long log is walked in two halves at once.
    async with pool.acquire() as connection, pool.acquire() as helper:
        checked = await verify_with_checkpoint(
            connection,
            bootstrap=checkpoints.bootstrap,
            topic=checkpoints.topic,
            first=first,
            last=last,
            helper=helper,
        )
    result, checkpoint = checked.verification, checked.checkpoint
    return VerificationRead(
        ok=checked.ok,
        verified_rows=result.verified_rows,
        head_sequence=result.head_sequence,
        head_hash=result.head_hash.hex(),
        first_bad_sequence=result.first_bad_sequence,
        problem=result.problem,
        checkpoint=None
        if checkpoint is None
        else CheckpointRead(
            sequence=checkpoint.sequence,
            row_hash=checkpoint.row_hash.hex(),
            occurred_at=checkpoint.occurred_at,
        ),
        checkpoint_status=checked.checkpoint_status,
    )
