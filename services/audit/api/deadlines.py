"""`/v1/audit/deadlines`: the open and missed deadlines of the organisations of the caller's
county, soonest due first."""

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from schemas.deadlines import DeadlineKind
from schemas.ids import OrganisationId
from services.audit.api.deps import Auditor, Pool, only_query
from services.audit.domain.deadlines import Deadline, DeadlineState
from services.audit.store.deadlines import DeadlinePosition
from services.audit.usecases.deadlines import read_deadlines
from services.plumbing.pagination import (
    CursorParam,
    LimitParam,
    decode_time_and_id,
    encode_time_and_id,
)

router = APIRouter(prefix="/v1/audit", tags=["deadlines"])


class ListedState(StrEnum):
    """Which deadlines the list shows."""

    OPEN = "open"  # due, not met, not closed, not missed
    MISSED = "missed"  # the due time passed unmet (met late since, or not)


class DeadlineRead(BaseModel):
    """One deadline of one referral."""

    deadline_id: uuid.UUID
    referral_id: uuid.UUID
    subject_id: uuid.UUID = Field(description="the person referred, as a random id")
    kind: DeadlineKind = Field(description="which service level it comes from")
    occurrence: int = Field(description="which one of its kind for the referral, from 1")
    organisation_id: uuid.UUID = Field(description="the organisation that must meet it")
    agreement_id: uuid.UUID
    agreement_version: int
    state: DeadlineState
    starts_at: dt.datetime = Field(description="when the step that started it was taken")
    due_at: dt.datetime = Field(description="when it falls due")
    met_at: dt.datetime | None = Field(description="when the step that met it was taken")
    closed_at: dt.datetime | None = Field(description="when it stopped being due, unmet")
    approaching_raised_at: dt.datetime | None = Field(description="when approaching was raised")
    missed_raised_at: dt.datetime | None = Field(description="when missed was raised")


class DeadlinePage(BaseModel):
    items: list[DeadlineRead]
    next_cursor: str | None = Field(description="for the next page; null on the last")


def _read(deadline: Deadline) -> DeadlineRead:
    assert deadline.due_at is not None, "only deadlines with a due time are listed"
    return DeadlineRead(
        deadline_id=deadline.deadline_id,
        referral_id=deadline.referral_id,
        subject_id=deadline.subject_id,
        kind=deadline.kind,
        occurrence=deadline.occurrence,
        organisation_id=deadline.organisation_id,
        agreement_id=deadline.agreement_id,
        agreement_version=deadline.agreement_version,
        state=deadline.state,
        starts_at=deadline.starts_at,
        due_at=deadline.due_at,
        met_at=deadline.met_at,
        closed_at=deadline.closed_at,
        approaching_raised_at=deadline.approaching_raised_at,
        missed_raised_at=deadline.missed_raised_at,
    )


def _position(cursor: str | None) -> DeadlinePosition | None:
    position = decode_time_and_id(cursor)
    return None if position is None else DeadlinePosition(*position)


@router.get(
    "/deadlines",
    response_model=DeadlinePage,
    dependencies=[Depends(only_query("organisation_id", "state", "cursor", "limit"))],
    summary="open and missed deadlines",
)
async def list_deadlines(
    pool: Pool,
    caller: Auditor,
    organisation_id: Annotated[
        uuid.UUID | None, Query(description="only the deadlines this organisation must meet")
    ] = None,
    state: Annotated[
        list[ListedState] | None,
        Query(max_length=2, description="open, missed or both (the default); repeatable"),
    ] = None,
    cursor: CursorParam = None,
    limit: LimitParam = 100,
) -> DeadlinePage:
    """Deadlines of the organisations of the caller's county (ids, codes and times only),
    soonest due first; those waiting for their agreement's service levels are not listed."""
    states = set(state or ListedState)
    items = await read_deadlines(
        pool,
        caller,
        organisation_id=None if organisation_id is None else OrganisationId(organisation_id),
        open_=ListedState.OPEN in states,
        missed=ListedState.MISSED in states,
        after=_position(cursor),
        limit=limit,
    )
    last = items[-1] if len(items) == limit else None
    return DeadlinePage(
        items=[_read(item) for item in items],
        next_cursor=None
        if last is None or last.due_at is None
        else encode_time_and_id(last.due_at, last.deadline_id),
    )
