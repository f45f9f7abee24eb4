"""Wiring of the notifier service: settings, the API, the consumers of the domain event
topics and the delivery worker."""

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar, Self

from fastapi import FastAPI
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.notifier.api import deliveries, subscriptions
from services.notifier.api.problems import install_notifier_problems
from services.notifier.consumers.domain_events import TOPICS, consumer_specs
from services.notifier.delivery.webhooks import SenderSettings, WebhookSender, resolve_host
from services.notifier.delivery.worker import DeliveryWorker, WorkerSettings
from services.notifier.domain.deliveries import RetryPolicy
from services.notifier.sealing import KEY_BYTES, SecretBox
from services.notifier.usecases.subscriptions import TargetRules
from services.plumbing.migrations import migrations_folder
from services.plumbing.service import create_service_app
from services.plumbing.settings import ServiceSettings

# Development only: a fixed, well-known key so that a local stack's subscriptions keep their
# secrets across restarts. Production refuses to start without a key of its own.
_DEVELOPMENT_SECRET_KEY = base64.b64encode(b"overgang-development-webhook-key").decode()


class MissingSecretKey(ValueError):
    """The key that seals signing secrets is not set, and only development has a default."""


class NotifierSettings(ServiceSettings):
    # A refused setting's error must not print what was given: the key is a secret.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    service_name: ClassVar[str] = "notifier"

    port: int = Field(8001, description="port the HTTP API answers on")
    secret_key: SecretStr | None = Field(
        None,
        description="OVERGANG_SECRET_KEY: base64 of 32 random bytes; seals the webhook signing "
        "secrets at rest (required in production)",
    )
    allow_private_webhook_targets: bool = Field(
        False,
        description="let webhooks go to private and loopback addresses (local tests, or "
        "receivers on an internal network); link-local, multicast and reserved never",
    )
    max_delivery_attempts: int = Field(
        8, ge=1, le=100, description="attempts of a delivery before it is dead-lettered"
    )
    retry_base_delay_s: float = Field(
        30.0, gt=0, description="the pause after the first failed attempt; doubles each time"
    )
    retry_max_delay_s: float = Field(6 * 3600.0, gt=0, description="the longest pause")
    max_retry_after_s: float = Field(
        6 * 3600.0, gt=0, description="a receiver's Retry-After is honoured up to this"
    )
    webhook_timeout_s: float = Field(
        10.0, gt=0, le=120, description="the whole of one webhook attempt at most"
    )
    webhook_max_response_bytes: int = Field(
        64 * 1024, gt=0, description="of a receiver's answer, at most this much is read"
    )
    deliveries_in_flight: int = Field(64, ge=1, description="attempts under way at once")
    deliveries_in_flight_per_subscription: int = Field(
        4, ge=1, description="attempts under way at once to one subscription's endpoint"
    )
    delivery_poll_s: float = Field(
        1.0, gt=0, description="how often the worker looks for due deliveries"
    )
    notified_topics: list[str] = Field(
        list(TOPICS), min_length=1, description="the domain event topics consumed"
    )

    @model_validator(mode="after")
    def _secret_key_is_usable(self) -> Self:
        if self.environment == "development" and self.secret_key is None:
            self.secret_key = SecretStr(_DEVELOPMENT_SECRET_KEY)
        if self.secret_key is not None:
            self.secret_box()
        return self

    def secret_box(self) -> SecretBox:
        """The box that seals signing secrets; MissingSecretKey outside development when the
        key is not set."""
        if self.secret_key is None:
            raise MissingSecretKey(
                f"OVERGANG_SECRET_KEY must be set in {self.environment} "
                f"(base64 of {KEY_BYTES} random bytes; only development has a default)"
            )
        try:
            raw = base64.b64decode(self.secret_key.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("OVERGANG_SECRET_KEY must be base64") from None
        if len(raw) != KEY_BYTES:
            raise ValueError(f"OVERGANG_SECRET_KEY must be the base64 of {KEY_BYTES} bytes")
        return SecretBox(raw)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_delivery_attempts,
            base_delay_s=self.retry_base_delay_s,
            max_delay_s=self.retry_max_delay_s,
            max_retry_after_s=self.max_retry_after_s,
        )


def create_app(settings: NotifierSettings) -> FastAPI:
    """The notifier service; MissingSecretKey when its key is not set (outside development)."""
    box = settings.secret_box()
    production = settings.environment == "production"
    app = create_service_app(
        settings,
        title="Overgang notifier service",
        description="Signed webhooks, e-mail and an in-app inbox per organisation.",
        migrations=migrations_folder("services.notifier"),
        consumers=consumer_specs(settings.notified_topics),
    )
    app.state.secret_box = box
    app.state.target_rules = TargetRules(
        production=production,
        allow_private=settings.allow_private_webhook_targets,
        resolve=resolve_host,
    )
    install_notifier_problems(app)
    for router in (subscriptions.router, deliveries.router):
        app.include_router(router)

    # The delivery worker runs beside what plumbing runs: started once the pool exists,
    # stopped before it closes. (Plumbing has no hook for a service's own background task.)
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(app):
            worker = DeliveryWorker(
                app.state.pool,
                WebhookSender(
                    SenderSettings(
                        production=production,
                        allow_private=settings.allow_private_webhook_targets,
                        timeout_s=settings.webhook_timeout_s,
                        max_response_bytes=settings.webhook_max_response_bytes,
                        max_connections_per_host=settings.deliveries_in_flight_per_subscription,
                    )
                ),
                box,
                settings.retry_policy(),
                WorkerSettings(
                    max_in_flight=settings.deliveries_in_flight,
                    per_subscription=settings.deliveries_in_flight_per_subscription,
                    poll_s=settings.delivery_poll_s,
                    lease_s=settings.webhook_timeout_s * 2 + 60,
                ),
            )
            app.state.delivery_worker = worker
            stop = asyncio.Event()
            running = asyncio.create_task(worker.run(stop), name="delivery-worker")
            try:
                yield
            finally:
                stop.set()
                await running

    app.router.lifespan_context = lifespan
    return app
