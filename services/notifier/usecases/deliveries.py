"""Deliveries: claimed for an attempt, settled after it (state, attempt row and
notification event in one transaction), listed, read and retried by hand."""

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from schemas.envelope import CloudEvent
from schemas.ids import DeliveryId, OrganisationId, SubscriptionId
from schemas.notifications import Channel
from schemas.topics import NOTIFICATION
from services.notifier.domain.deliveries import AttemptResult, Delivery, DeliveryStatus, RetryPolicy
from services.notifier.store import deliveries
from services.notifier.store.deliveries import Attempt, Claimed
from services.notifier.usecases.clock import new_id
from services.notifier.usecases.errors import NotFound
from services.plumbing import outbox
from services.plumbing.database import Connection

SOURCE = "/overgang/notifier"


async def claim_due(
    connection: Connection,
    *,
    now: dt.datetime,
    in_flight: dict[SubscriptionId, int],
    per_subscription: int,
    free: int,
    lease_s: float,
    channels: Collection[Channel],
) -> list[Claimed]:
    """Claims up to `free` due deliveries through `channels`, never more than
    `per_subscription` in flight for one subscription (counting those in `in_flight`)."""
    busy: Collection[SubscriptionId] = [
        subscription for subscription, count in in_flight.items() if count >= per_subscription
    ]
    candidates = await deliveries.due(
        connection,
        now=now,
        busy=busy,
        per_subscription=per_subscription,
        limit=free * 4,
        channels=channels,
    )
    taken: dict[SubscriptionId, int] = {}
    chosen: list[DeliveryId] = []
    for delivery_id, subscription_id in candidates:
        if len(chosen) >= free:
            break
        count = in_flight.get(subscription_id, 0) + taken.get(subscription_id, 0)
        if count < per_subscription:
            taken[subscription_id] = taken.get(subscription_id, 0) + 1
            chosen.append(delivery_id)
    if not chosen:
        return []
    async with connection.transaction():
        return await deliveries.claim(
            connection, chosen, now=now, lease_until=now + dt.timedelta(seconds=lease_s)
        )


async def settle(
    connection: Connection,
    claimed: Claimed,
    result: AttemptResult,
    *,
    started_at: dt.datetime,
    policy: RetryPolicy,
    now: dt.datetime,
    jitter: float,
) -> Delivery | None:
    """Records the attempt and what follows from it; None when the lease was lost (another
    worker took the delivery over; its own attempt will be recorded)."""
    async with connection.transaction():
        current = await deliveries.get_leased(
            connection, claimed.delivery.delivery_id, claimed.lease_token
        )
        if current is None:
            return None
        settled, data = current.settle(result, policy, now=now, jitter=jitter)
        await deliveries.add_attempt(
            connection, current.delivery_id, settled.attempts, started_at, result
        )
        await deliveries.update(connection, settled)
        event = CloudEvent.of(data, source=SOURCE, event_id=new_id(), time=now)
        await outbox.enqueue(connection, event, NOTIFICATION.name)
        return settled


async def release(connection: Connection, claimed: Claimed) -> None:
    await deliveries.release(connection, claimed.delivery.delivery_id, claimed.lease_token)


@dataclass(frozen=True)
class DeliveryWithAttempts:
    delivery: Delivery
    attempts: list[Attempt]


async def read(
    connection: Connection, organisation_id: OrganisationId, delivery_id: uuid.UUID
) -> DeliveryWithAttempts:
    delivery = await deliveries.get(connection, organisation_id, delivery_id)
    if delivery is None:
        raise NotFound("no such delivery")
    return DeliveryWithAttempts(delivery, await deliveries.attempts_of(connection, delivery_id))


async def retry_by_hand(
    connection: Connection,
    organisation_id: OrganisationId,
    delivery_id: uuid.UUID,
    now: dt.datetime,
) -> Delivery:
    """A dead-lettered delivery back in the queue with a fresh round of attempts."""
    async with connection.transaction():
        delivery = await deliveries.get(connection, organisation_id, delivery_id, lock=True)
        if delivery is None:
            raise NotFound("no such delivery")
        again = delivery.retry_by_hand(now)
        await deliveries.update(connection, again)
        return again


async def page(
    connection: Connection,
    organisation_id: OrganisationId,
    *,
    status: DeliveryStatus | None,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Delivery]:
    return await deliveries.page(
        connection, organisation_id, status=status, after=after, limit=limit
    )
