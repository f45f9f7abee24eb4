"""Deliveries: one per (event, subscription), whatever how often the event is consumed; each
attempt's result settles what happens next: delivered, tried again later (exponential backoff
with jitter, at least as long as the receiver's Retry-After), or dead-lettered once the
attempts of a round are spent or a retry cannot help. Dead-lettered deliveries are retried by
hand, each time with a fresh round of attempts."""

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

from schemas.ids import DeliveryId, EventId, OrganisationId, SubscriptionId
from schemas.notifications import (
    Channel,
    DeliveryFailure,
    NotificationDeadLetteredV1,
    NotificationDeliveredV1,
    NotificationFailedV1,
)
from services.notifier.domain.errors import NotDeadLettered

# Fixed for ever: a delivery's id (and so its `webhook-id`) is derived from the event and the
# subscription, so that the same pair never gets a second id.
_DELIVERY_NAMESPACE = uuid.UUID("6f1c2d0e-7d0a-4b8e-9a51-0c1d6e0b7a11")


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"  # waits for someone to retry it by hand
    CANCELLED = "cancelled"  # its subscription was deleted before it was delivered


def delivery_id_for(event_id: uuid.UUID, subscription_id: uuid.UUID) -> DeliveryId:
    """The one id of the delivery of this event to this subscription."""
    return DeliveryId(uuid.uuid5(_DELIVERY_NAMESPACE, f"{event_id}/{subscription_id}"))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how far apart attempts are made (from the service's settings)."""

    max_attempts: int
    base_delay_s: float
    max_delay_s: float
    # A receiver's Retry-After is honoured up to this.
    max_retry_after_s: float

    def delay_s(self, attempt: int, jitter: float, retry_after_s: float | None) -> float:
        """The pause after failed attempt number `attempt` of a round (from 1): exponential,
        capped, with `jitter` (in [0, 1)) spreading it over its upper half so that receivers
        coming back are not hit by every sender at once; never shorter than Retry-After."""
        backoff = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        delay = backoff * (0.5 + jitter / 2)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_retry_after_s))
        return delay


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt came to."""

    delivered: bool
    latency_ms: int
    status_code: int | None = None
    failure: DeliveryFailure | None = None
    # Finer than `failure`, for operators: e.g. ConnectTimeout, forbidden_address.
    error_class: str | None = None
    retry_after_s: float | None = None
    # False when trying again cannot help (a 4xx other than 408 and 429, a refused address).
    retryable: bool = True


def is_retryable_status(status_code: int) -> bool:
    """5xx, 429 and 408 (the receiver timed out waiting) are tried again; other answers are
    final (a redirect is not followed: the address it names was never checked)."""
    return status_code >= 500 or status_code in (408, 429)


@dataclass(frozen=True)
class Delivery:
    """The delivery of one event to one subscription."""

    delivery_id: DeliveryId
    event_id: EventId
    event_type: str
    subscription_id: SubscriptionId
    organisation_id: OrganisationId
    channel: Channel
    status: DeliveryStatus
    attempts: int  # every attempt ever made
    round_attempts: int  # attempts since it was made or last retried by hand
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    last_failure: str | None = None

    def settle(
        self, result: AttemptResult, policy: RetryPolicy, *, now: dt.datetime, jitter: float
    ) -> tuple[
        "Delivery", NotificationDeliveredV1 | NotificationFailedV1 | NotificationDeadLetteredV1
    ]:
        """The delivery after this attempt, and the event that says so."""
        attempt = self.attempts + 1
        common = {
            "delivery_id": self.delivery_id,
            "subscription_id": self.subscription_id,
            "organisation_id": self.organisation_id,
            "channel": self.channel,
            "attempt": attempt,
            "status_code": result.status_code,
            "notified_event_id": self.event_id,
            "notified_event_type": self.event_type,
            "occurred_at": now,
        }
        tried = replace(
            self, attempts=attempt, round_attempts=self.round_attempts + 1, updated_at=now
        )
        if result.delivered:
            done = replace(
                tried, status=DeliveryStatus.DELIVERED, next_attempt_at=None, last_failure=None
            )
            return done, NotificationDeliveredV1.model_validate(common)
        failure = result.failure or DeliveryFailure.CONNECTION_ERROR
        why = result.error_class or failure.value
        if not result.retryable or tried.round_attempts >= policy.max_attempts:
            dead = replace(
                tried,
                status=DeliveryStatus.DEAD_LETTERED,
                next_attempt_at=None,
                last_failure=why,
            )
            return dead, NotificationDeadLetteredV1.model_validate(common | {"failure": failure})
        delay = policy.delay_s(tried.round_attempts, jitter, result.retry_after_s)
        later = now + dt.timedelta(seconds=delay)
        again = replace(tried, next_attempt_at=later, last_failure=why)
        return again, NotificationFailedV1.model_validate(
            common | {"failure": failure, "next_attempt_at": later}
        )

    def retry_by_hand(self, now: dt.datetime) -> "Delivery":
        """Back in the queue with a fresh round of attempts; NotDeadLettered unless it was."""
        if self.status is not DeliveryStatus.DEAD_LETTERED:
            raise NotDeadLettered(self.status.value)
        return replace(
            self,
            status=DeliveryStatus.PENDING,
            round_attempts=0,
            next_attempt_at=now,
            updated_at=now,
        )
