"""Wiring of the referral service."""

import base64
from typing import ClassVar, Self

from fastapi import FastAPI
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from schemas.topics import INBOUND_SCHOOL
from services.plumbing.migrations import migrations_folder
from services.plumbing.service import create_service_app
from services.plumbing.settings import ServiceSettings, key_setting, retired_keys_setting
from services.referral.api import (
    agreements,
    consents,
    events,
    organisations,
    referrals,
    rights,
    subjects,
)
from services.referral.api.problems import install_referral_problems
from services.referral.consumers import ConsumedTopics, referral_consumers
from services.referral.crypto import KEY_BYTES, StoreKeys

# Development only: fixed, well-known keys so that a local stack keeps finding its subjects
# across restarts. Production refuses to start without keys of its own.
_DEVELOPMENT_MASTER_KEY = base64.b64encode(b"overgang-development-master-key!").decode()
_DEVELOPMENT_INDEX_KEY = base64.b64encode(b"overgang-development-index-key!!").decode()


class MissingStoreKeys(ValueError):
    """The store's keys are not set, and only development has defaults."""


class ReferralSettings(ServiceSettings):
    # A refused setting's error must not print what was given: the keys are secrets.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    service_name: ClassVar[str] = "referral"

    port: int = Field(8000, description="port the HTTP API answers on")
    master_key: SecretStr | None = Field(
        None,
        description="OVERGANG_MASTER_KEY: base64 of 32 random bytes; wraps each person's data "
        "key (required in production)",
    )
    index_key: SecretStr | None = Field(
        None,
        description="OVERGANG_INDEX_KEY: base64 of 32 random bytes, not the master key; keys "
        "the blind index of identity numbers (required in production)",
    )
    retired_master_keys: SecretStr | None = Field(
        None,
        description="OVERGANG_RETIRED_MASTER_KEYS: while the master key is rotated, the keys it "
        "replaced (base64, comma-separated): they open data keys wrapped before and wrap none; "
        "unset once `overgang keys rewrap` has moved every data key to the master key",
    )
    allow_synthetic_identity_numbers: bool = Field(
        False, description="accept NAV's and Skatteetaten's synthetic test identity numbers"
    )
    ingress_publish_timeout_s: float = Field(
        10.0,
        gt=0,
        description="how long POST /v1/events waits for Kafka to acknowledge its events "
        "before it answers 503",
    )
    ingress_max_batch: int = Field(
        100, gt=0, description="most events a batch to POST /v1/events may hold (more: 413)"
    )

    @model_validator(mode="after")
    def _store_keys_are_usable(self) -> Self:
        if self.environment == "development":
            if self.master_key is None:
                self.master_key = SecretStr(_DEVELOPMENT_MASTER_KEY)
            if self.index_key is None:
                self.index_key = SecretStr(_DEVELOPMENT_INDEX_KEY)
        # Keys that are given must be usable; missing ones are refused by `store_keys`, when
        # the service is built (outside development there is no default).
        if self.master_key is not None and self.index_key is not None:
            self.store_keys()
        return self

    def store_keys(self) -> StoreKeys:
        """The referral store's keys, decoded; MissingStoreKeys outside development when
        they are not set."""
        if self.master_key is None or self.index_key is None:
            missing = [
                env
                for env, value in (
                    ("OVERGANG_MASTER_KEY", self.master_key),
                    ("OVERGANG_INDEX_KEY", self.index_key),
                )
                if value is None
            ]
            raise MissingStoreKeys(
                f"{' and '.join(missing)} must be set in {self.environment} "
                f"(base64 of {KEY_BYTES} random bytes each; only development has defaults)"
            )
        return StoreKeys(
            master_key=key_setting("OVERGANG_MASTER_KEY", self.master_key),
            index_key=key_setting("OVERGANG_INDEX_KEY", self.index_key),
            retired_master_keys=retired_keys_setting(
                "OVERGANG_RETIRED_MASTER_KEYS", self.retired_master_keys
            ),
        )


def create_app(
    settings: ReferralSettings, *, consumed_topics: ConsumedTopics | None = None
) -> FastAPI:
    """The referral service; MissingStoreKeys when its keys are not set (outside development).
    Its consumers read the declared topics unless `consumed_topics` says otherwise (tests)."""
    keys = settings.store_keys()
    app = create_service_app(
        settings,
        title="Overgang referral service",
        description="Organisations, agreements, subjects, consents and the referral lifecycle.",
        migrations=migrations_folder("services.referral"),
        consumers=referral_consumers(
            keys,
            allow_synthetic_identity_numbers=settings.allow_synthetic_identity_numbers,
            topics=consumed_topics,
        ),
        media_types=events.ACCEPTED_MEDIA_TYPES,
    )
    inbound = consumed_topics or ConsumedTopics()
    # Events taken over HTTP go where the consumers read them.
    app.state.ingress = events.IngressSettings(
        topics={INBOUND_SCHOOL.name: inbound.inbound_school},
        publish_timeout_s=settings.ingress_publish_timeout_s,
        max_batch=settings.ingress_max_batch,
    )
    app.state.store_keys = keys
    app.state.allow_synthetic_identity_numbers = settings.allow_synthetic_identity_numbers
    install_referral_problems(app)
    for router in (
        organisations.router,
        agreements.router,
        subjects.router,
        referrals.router,
        consents.router,
        rights.router,
        events.router,
    ):
        app.include_router(router)
    events.declare_event_schemas(app)
    return app
