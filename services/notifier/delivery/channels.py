"""The channels a delivery goes through. The worker claims, attempts and settles deliveries
the same way whatever the channel (retries, backoff, dead letters, attempts stored); a
channel only makes one attempt and says what it came to."""

from typing import Protocol

from schemas.notifications import Channel, DeliveryFailure
from services.notifier.delivery.webhooks import WebhookSender
from services.notifier.domain.deliveries import AttemptResult
from services.notifier.sealing import CannotOpen, SecretBox
from services.notifier.store.deliveries import Claimed


class ChannelSender(Protocol):
    """One way of reaching an organisation."""

    @property
    def channel(self) -> Channel: ...

    async def attempt(self, claim: Claimed) -> AttemptResult:
        """One attempt of the claimed delivery; never raises for the receiver's faults."""
        ...

    async def close(self) -> None: ...


def unusable(error_class: str) -> AttemptResult:
    """An attempt that could not be made, and never will be: dead-lettered at once."""
    return AttemptResult(
        delivered=False,
        latency_ms=0,
        failure=DeliveryFailure.CONNECTION_ERROR,
        error_class=error_class,
        retryable=False,
    )


class WebhookChannel:
    """Webhooks: the signing secret opened, the CloudEvent POSTed (see webhooks.py)."""

    channel = Channel.WEBHOOK

    def __init__(self, sender: WebhookSender, box: SecretBox) -> None:
        self.sender = sender
        self.box = box

    async def attempt(self, claim: Claimed) -> AttemptResult:
        if claim.url is None or claim.sealed_secret is None:
            return unusable("not_a_webhook")
        try:
            secret = self.box.open(claim.sealed_secret, claim.delivery.subscription_id)
        except CannotOpen:
            return unusable("secret_unreadable")
        return await self.sender.send(
            url=claim.url,
            secret=secret,
            webhook_id=str(claim.delivery.delivery_id),
            body=claim.body,
        )

    async def close(self) -> None:
        await self.sender.close()
