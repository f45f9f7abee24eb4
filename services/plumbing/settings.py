"""One settings base class for every service, read from OVERGANG_* environment variables.

On a developer's machine, what the environment leaves unset is taken from the local stack's
state file (written by `overgang stack up`), so `python -m services.referral` just works."""

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from services.plumbing.auth import AUDIENCE, DEV_ISSUER
from services.plumbing.telemetry import TraceExporter

DEFAULT_STACK_STATE = Path(__file__).resolve().parents[2] / "var" / "stack.json"
DEFAULT_DEV_JWKS = Path(__file__).resolve().parents[2] / "var" / "dev-issuer" / "jwks.json"


class LocalStackSource(PydanticBaseSettingsSource):
    """Kafka and this service's database URL from the local stack's state file, if there is one."""

    def __init__(self, settings_cls: type[BaseSettings], service: str) -> None:
        super().__init__(settings_cls)
        path = Path(os.environ.get("OVERGANG_STACK_STATE", DEFAULT_STACK_STATE))
        self.values: dict[str, Any] = {}
        if not path.exists():
            return
        state = json.loads(path.read_text())
        if state.get("kafka"):
            self.values["kafka_bootstrap"] = state["kafka"]["bootstrap"]
        database = (state.get("postgres") or {}).get("databases", {}).get(service)
        if database:
            self.values["database_url"] = database

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


class ServiceSettings(BaseSettings):
    """What every service needs to run; each service subclasses it with its name and port."""

    model_config = SettingsConfigDict(env_prefix="OVERGANG_", extra="ignore")

    service_name: ClassVar[str]

    kafka_bootstrap: str = Field(description="Kafka bootstrap servers, host:port[,host:port]")
    database_url: SecretStr = Field(description="PostgreSQL URL of this service's own database")
    host: str = Field("127.0.0.1", description="address the HTTP API binds to")
    port: int = Field(description="port the HTTP API answers on")
    kafka_retry_s: float = Field(2.0, description="pause between attempts to reach Kafka")
    readiness_timeout_s: float = Field(2.0, description="how long /readyz waits for each check")
    max_request_bytes: int = Field(
        64 * 1024, gt=0, description="largest request body accepted, in bytes (larger: 413)"
    )
    environment: Literal["development", "production"] = Field(
        "development", description="production refuses the dev token issuer and plain http"
    )
    auth_issuer: str = Field(DEV_ISSUER, description="the `iss` that tokens must carry")
    auth_audience: str = Field(AUDIENCE, description="the `aud` that tokens must carry")
    auth_jwks: str = Field(
        str(DEFAULT_DEV_JWKS), description="the issuer's JWKS: an https URL, or a file"
    )
    log_level: str = Field("INFO", description="level of the JSON logs")
    trace_exporter: TraceExporter = Field(
        TraceExporter.NONE,
        description="where traces go: otlp, console, or none (no spans are recorded, so no "
        "trace ids in the logs; incoming trace context still passes through)",
    )
    otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP traces endpoint; unset means the exporter's default"
    )

    @model_validator(mode="after")
    def _production_is_strict(self) -> Self:
        if self.environment == "production":
            if self.auth_issuer == DEV_ISSUER:
                raise ValueError("production refuses the development token issuer")
            if not self.auth_jwks.startswith("https://"):
                raise ValueError("production needs the issuer's JWKS from an https URL")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            file_secret_settings,
            LocalStackSource(settings_cls, cls.service_name),
        )


def key_setting(name: str, value: SecretStr, *, size: int = 32) -> bytes:
    """A key given as base64 in the setting `name`; a ValueError that names the setting, never
    its value, when it is not the base64 of `size` bytes."""
    try:
        raw = base64.b64decode(value.get_secret_value().strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} must be base64") from None
    if len(raw) != size:
        raise ValueError(f"{name} must be the base64 of {size} bytes")
    return raw


def retired_keys_setting(
    name: str, value: SecretStr | None, *, size: int = 32
) -> tuple[bytes, ...]:
    """The keys a rotation retired, given comma-separated in the setting `name` (unset: none)."""
    if value is None:
        return ()
    return tuple(
        key_setting(name, SecretStr(text), size=size)
        for text in value.get_secret_value().split(",")
        if text.strip()
    )
