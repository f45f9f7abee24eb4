"""`/v1/audit/verify`: walk the chain (or a stretch of it) and say where it first breaks."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from services.audit.api.deps import Auditor, Pool, only_query
from services.audit.domain.chain import Problem
from services.audit.usecases.verify import verify_chain

router = APIRouter(prefix="/v1/audit", tags=["audit log"])


class VerificationRead(BaseModel):
    """The outcome of a verification."""

    ok: bool = Field(description="every row walked holds, and the log ends at its head")
    verified_rows: int = Field(description="how many rows were found good")
    head_sequence: int | None = Field(description="the last row found good")
    head_hash: str = Field(description="its row hash (hex): compare with a published checkpoint")
    first_bad_sequence: int | None = Field(description="the first row that does not hold")
    problem: Problem | None = Field(description="what is wrong there")


Sequence = Annotated[int | None, Query(ge=1, le=2**62, description="a sequence number")]


@router.get(
    "/verify",
    response_model=VerificationRead,
    dependencies=[Depends(only_query("from", "to"))],
    summary="verify the hash chain",
)
async def verify(
    pool: Pool,
    caller: Auditor,
    first: Annotated[Sequence, Query(alias="from")] = None,
    last: Annotated[Sequence, Query(alias="to")] = None,
) -> VerificationRead:
    """Hashes only, no personal data: any auditor may verify the whole log."""
    async with pool.acquire() as connection:
        result = await verify_chain(connection, first=first, last=last)
    return VerificationRead(
        ok=result.ok,
        verified_rows=result.verified_rows,
        head_sequence=result.head_sequence,
        head_hash=result.head_hash.hex(),
        first_bad_sequence=result.first_bad_sequence,
        problem=result.problem,
    )
