"""Deliveries: one id per (event, subscription); each attempt settles what follows."""

import datetime as dt
import uuid

import pytest

from schemas.ids import EventId, OrganisationId, SubscriptionId
from schemas.notifications import (
    Channel,
    DeliveryFailure,
    NotificationDeadLetteredV1,
    NotificationDeliveredV1,
    NotificationFailedV1,
)
from services.notifier.domain.deliveries import (
    AttemptResult,
    Delivery,
    DeliveryStatus,
    RetryPolicy,
    delivery_id_for,
    is_retryable_status,
)
from services.notifier.domain.errors import NotDeadLettered
from services.notifier.domain.subscriptions import signing_secret

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
POLICY = RetryPolicy(max_attempts=3, base_delay_s=10, max_delay_s=60, max_retry_after_s=600)
FAILED = AttemptResult(
    delivered=False, latency_ms=5, status_code=500, failure=DeliveryFailure.HTTP_STATUS
)


def _delivery() -> Delivery:
    event_id, subscription_id = uuid.uuid4(), uuid.uuid4()
    return Delivery(
        delivery_id=delivery_id_for(event_id, subscription_id),
        event_id=EventId(event_id),
        event_type="no.overgang.referral.submitted.v1",
        subscription_id=SubscriptionId(subscription_id),
        organisation_id=OrganisationId(uuid.uuid4()),
        channel=Channel.WEBHOOK,
        status=DeliveryStatus.PENDING,
        attempts=0,
        round_attempts=0,
        next_attempt_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )


def test_the_delivery_id_is_the_same_for_the_same_event_and_subscription() -> None:
    event, subscription = uuid.uuid4(), uuid.uuid4()
    assert delivery_id_for(event, subscription) == delivery_id_for(event, subscription)
    assert delivery_id_for(event, subscription) != delivery_id_for(event, uuid.uuid4())


def test_backoff_doubles_is_capped_and_jittered_over_its_upper_half() -> None:
    assert POLICY.delay_s(1, 0.0, None) == 5
    assert POLICY.delay_s(1, 0.999, None) == pytest.approx(10, abs=0.01)
    assert POLICY.delay_s(2, 0.0, None) == 10
    assert POLICY.delay_s(10, 0.0, None) == 30  # capped at 60, half of it at least


def test_retry_after_is_honoured_up_to_its_bound() -> None:
    assert POLICY.delay_s(1, 0.0, 120) == 120
    assert POLICY.delay_s(1, 0.0, 10_000) == 600


def test_which_answers_are_tried_again() -> None:
    assert all(is_retryable_status(code) for code in (500, 502, 503, 429, 408))
    assert not any(is_retryable_status(code) for code in (400, 401, 404, 410, 301, 302))


def test_a_failure_is_tried_again_later_then_dead_lettered_after_the_last_attempt() -> None:
    delivery = _delivery()
    delivery, event = delivery.settle(FAILED, POLICY, now=NOW, jitter=0.0)
    assert isinstance(event, NotificationFailedV1)
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.next_attempt_at == NOW + dt.timedelta(seconds=5)
    assert event.next_attempt_at == delivery.next_attempt_at
    delivery, event = delivery.settle(FAILED, POLICY, now=NOW, jitter=0.0)
    assert isinstance(event, NotificationFailedV1)
    delivery, event = delivery.settle(FAILED, POLICY, now=NOW, jitter=0.0)
    assert isinstance(event, NotificationDeadLetteredV1)
    assert (delivery.status, delivery.attempts, event.attempt) == (
        DeliveryStatus.DEAD_LETTERED,
        3,
        3,
    )
    assert delivery.next_attempt_at is None


def test_an_answer_that_a_retry_cannot_help_is_dead_lettered_at_once() -> None:
    gone = AttemptResult(
        delivered=False,
        latency_ms=3,
        status_code=410,
        failure=DeliveryFailure.HTTP_STATUS,
        retryable=False,
    )
    delivery, event = _delivery().settle(gone, POLICY, now=NOW, jitter=0.5)
    assert isinstance(event, NotificationDeadLetteredV1)
    assert event.status_code == 410
    assert delivery.attempts == 1


def test_a_retry_by_hand_gives_a_fresh_round_and_keeps_counting_attempts() -> None:
    delivery = _delivery()
    with pytest.raises(NotDeadLettered):
        delivery.retry_by_hand(NOW)
    for _ in range(3):
        delivery, _event = delivery.settle(FAILED, POLICY, now=NOW, jitter=0.0)
    again = delivery.retry_by_hand(NOW)
    assert (again.status, again.round_attempts, again.next_attempt_at) == (
        DeliveryStatus.PENDING,
        0,
        NOW,
    )
    done, event = again.settle(
        AttemptResult(delivered=True, latency_ms=2, status_code=204), POLICY, now=NOW, jitter=0
    )
    assert isinstance(event, NotificationDeliveredV1)
    assert (done.status, done.attempts, event.attempt) == (DeliveryStatus.DELIVERED, 4, 4)


def test_a_signing_secret_is_standard_webhooks_shaped() -> None:
    secret = signing_secret(bytes(range(32)))
    assert secret.startswith("whsec_")
    with pytest.raises(ValueError, match="24"):
        signing_secret(b"short")
