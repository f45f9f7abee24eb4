"""/v1/deliveries: an organisation's deliveries by status, each with its attempts, and the
retry by hand of a dead-lettered one."""

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from schemas.ids import DeliveryId, EventId, SubscriptionId
from services.notifier.api.deps import Admin, Pool
from services.notifier.domain.deliveries import Delivery, DeliveryStatus
from services.notifier.store.deliveries import Attempt
from services.notifier.usecases import deliveries
from services.notifier.usecases.clock import now
from services.plumbing.pagination import (
    CursorParam,
    LimitParam,
    decode_time_and_id,
    encode_time_and_id,
)

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])

DeliveryPath = Annotated[uuid.UUID, Path(description="the delivery")]


class DeliveryRead(BaseModel):
    """One delivery of one event to one subscription; its id is the webhook-id."""

    delivery_id: DeliveryId
    subscription_id: SubscriptionId
    event_id: EventId = Field(description="the CloudEvents id of the event delivered")
    event_type: str
    channel: str
    status: DeliveryStatus
    attempts: int = Field(description="attempts made so far")
    next_attempt_at: dt.datetime | None = Field(description="when a pending one is tried next")
    last_failure: str | None = Field(description="why the last attempt failed, as a code")
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, delivery: Delivery) -> "DeliveryRead":
        return cls(
            delivery_id=delivery.delivery_id,
            subscription_id=delivery.subscription_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            channel=delivery.channel.value,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            last_failure=delivery.last_failure,
            created_at=delivery.created_at,
            updated_at=delivery.updated_at,
        )


class AttemptRead(BaseModel):
    attempt: int
    started_at: dt.datetime
    latency_ms: int
    outcome: str = Field(description="delivered or failed")
    status_code: int | None
    failure: str | None = Field(description="timeout, connection_error, tls_error, http_status")
    error_class: str | None

    @classmethod
    def of(cls, attempt: Attempt) -> "AttemptRead":
        return cls(**attempt.__dict__)


class DeliveryDetail(DeliveryRead):
    attempt_log: list[AttemptRead] = Field(description="every attempt, first first")


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None = Field(description="for the next page; absent on the last")


@router.get("", summary="The organisation's deliveries, oldest first, by status")
async def list_deliveries(
    principal: Admin,
    pool: Pool,
    status: Annotated[DeliveryStatus | None, Query(description="only this status")] = None,
    cursor: CursorParam = None,
    limit: LimitParam = 50,
) -> DeliveryPage:
    async with pool.acquire() as connection:
        found = await deliveries.page(
            connection,
            principal.organisation_id,
            status=status,
            after=decode_time_and_id(cursor),
            limit=limit + 1,
        )
    items = found[:limit]
    following = None
    if len(found) > limit:
        following = encode_time_and_id(items[-1].created_at, items[-1].delivery_id)
    return DeliveryPage(items=[DeliveryRead.of(item) for item in items], next_cursor=following)


@router.get("/{delivery_id}", summary="One delivery, with its attempts")
async def read_delivery(delivery_id: DeliveryPath, principal: Admin, pool: Pool) -> DeliveryDetail:
    async with pool.acquire() as connection:
        found = await deliveries.read(connection, principal.organisation_id, delivery_id)
    return DeliveryDetail(
        **DeliveryRead.of(found.delivery).model_dump(),
        attempt_log=[AttemptRead.of(attempt) for attempt in found.attempts],
    )


@router.post(
    "/{delivery_id}/retry",
    status_code=202,
    summary="Try a dead-lettered delivery again, with a fresh round of attempts",
)
async def retry_delivery(
    delivery_id: DeliveryPath, principal: Admin, pool: Pool, request: Request
) -> DeliveryRead:
    async with pool.acquire() as connection:
        again = await deliveries.retry_by_hand(
            connection, principal.organisation_id, delivery_id, now()
        )
    worker = getattr(request.app.state, "delivery_worker", None)
    if worker is not None:
        worker.wake()
    return DeliveryRead.of(again)
