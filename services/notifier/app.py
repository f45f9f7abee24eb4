"""Wiring of the notifier service: settings, the API, the consumers of the domain event
topics and the delivery worker."""

import asyncio
import base64
from typing import ClassVar, Self

from fastapi import FastAPI
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.notifier.api import deliveries, inbox, subscriptions
from services.notifier.api.problems import install_notifier_problems
from services.notifier.consumers.domain_events import TOPICS, consumer_specs
from services.notifier.delivery.channels import ChannelSender, WebhookChannel
from services.notifier.delivery.email import EmailSender, SmtpSettings
from services.notifier.delivery.webhooks import SenderSettings, WebhookSender, resolve_host
from services.notifier.delivery.worker import DeliveryWorker, WorkerSettings
from services.notifier.domain.deliveries import RetryPolicy
from services.notifier.domain.errors import InvalidAddress
from services.notifier.domain.subscriptions import mailbox_address
from services.notifier.sealing import KEY_BYTES, SecretBox
from services.notifier.usecases.subscriptions import TargetRules
from services.plumbing.migrations import migrations_folder
from services.plumbing.service import create_service_app, run_in_background
from services.plumbing.settings import ServiceSettings, key_setting, retired_keys_setting

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
    retired_secret_keys: SecretStr | None = Field(
        None,
        description="OVERGANG_RETIRED_SECRET_KEYS: while the secret key is rotated, the keys it "
        "replaced (base64, comma-separated): they open secrets sealed before and seal none; "
        "unset once `overgang keys reseal` has sealed every secret by the secret key",
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
    smtp_host: str | None = Field(
        None, description="the SMTP server e-mail goes through; unset: no e-mail subscriptions"
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="the SMTP server's port")
    smtp_username: str | None = Field(None, description="to log in to the SMTP server, if needed")
    smtp_password: SecretStr | None = Field(None, description="to log in to the SMTP server")
    smtp_starttls: bool = Field(
        True,
        description="upgrade the SMTP connection with STARTTLS, and fail rather than send in "
        "clear when the server does not offer it (production refuses false)",
    )
    smtp_validate_certs: bool = Field(True, description="check the SMTP server's certificate")
    smtp_from_address: str = Field(
        "varsel@overgang.no", description="the From of every notification e-mail"
    )
    smtp_timeout_s: float = Field(30.0, gt=0, le=300, description="one SMTP session at most")
    web_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="where e-mails tell people to look: the base URL of Overgang's web or API",
    )

    @field_validator("smtp_host", "smtp_username", "smtp_password", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # A deployment file passes an optional variable it was not given as empty.
        return None if value == "" else value

    @model_validator(mode="after")
    def _secret_key_is_usable(self) -> Self:
        if self.environment == "development" and self.secret_key is None:
            self.secret_key = SecretStr(_DEVELOPMENT_SECRET_KEY)
        if self.secret_key is not None:
            self.secret_box()
        return self

    @model_validator(mode="after")
    def _smtp_is_usable(self) -> Self:
        try:
            mailbox_address(self.smtp_from_address)
        except InvalidAddress as error:
            raise ValueError(f"OVERGANG_SMTP_FROM_ADDRESS: {error}") from None
        verified = self.smtp_starttls and self.smtp_validate_certs
        if self.smtp_host is not None and self.environment == "production" and not verified:
            raise ValueError("production sends e-mail over verified STARTTLS only")
        return self

    def smtp(self) -> SmtpSettings | None:
        """How to send e-mail; None when no SMTP server is set."""
        if self.smtp_host is None:
            return None
        return SmtpSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            from_address=self.smtp_from_address,
            base_url=self.web_base_url,
            username=self.smtp_username,
            password=None if self.smtp_password is None else self.smtp_password.get_secret_value(),
            starttls=self.smtp_starttls,
            timeout_s=self.smtp_timeout_s,
            validate_certs=self.smtp_validate_certs,
        )

    def secret_box(self) -> SecretBox:
        """The box that seals signing secrets; MissingSecretKey outside development when the
        key is not set."""
        if self.secret_key is None:
            raise MissingSecretKey(
                f"OVERGANG_SECRET_KEY must be set in {self.environment} "
                f"(base64 of {KEY_BYTES} random bytes; only development has a default)"
            )
        return SecretBox(
            key_setting("OVERGANG_SECRET_KEY", self.secret_key, size=KEY_BYTES),
            retired=retired_keys_setting(
                "OVERGANG_RETIRED_SECRET_KEYS", self.retired_secret_keys, size=KEY_BYTES
            ),
        )

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
    smtp = settings.smtp()
    app.state.email_enabled = smtp is not None
    install_notifier_problems(app)
    for router in (subscriptions.router, deliveries.router, inbox.router):
        app.include_router(router)

    async def deliver(app: FastAPI, stop: asyncio.Event) -> None:
        channels: list[ChannelSender] = [
            WebhookChannel(
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
            )
        ]
        if smtp is not None:
            channels.append(EmailSender(smtp))
        worker = DeliveryWorker(
            app.state.pool,
            channels,
            settings.retry_policy(),
            WorkerSettings(
                max_in_flight=settings.deliveries_in_flight,
                per_subscription=settings.deliveries_in_flight_per_subscription,
                poll_s=settings.delivery_poll_s,
                lease_s=max(settings.webhook_timeout_s, settings.smtp_timeout_s) * 2 + 60,
            ),
        )
        app.state.delivery_worker = worker
        await worker.run(stop)

    run_in_background(app, "delivery-worker", deliver)
    return app
