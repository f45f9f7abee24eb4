"""The web front's settings (`OVERGANG_*`): where the services answer, how people sign in, and
the key that signs the session cookie. What is unset comes from the local stack's state file."""

import json
import os
import secrets
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from services.plumbing.settings import DEFAULT_STACK_STATE

DEFAULT_DEV_ISSUER = Path(__file__).resolve().parents[2] / "var" / "dev-issuer"


class _LocalStackServices(PydanticBaseSettingsSource):
    """The services' addresses from the local stack's state file, if there is one."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = Path(os.environ.get("OVERGANG_STACK_STATE", DEFAULT_STACK_STATE))
        services = json.loads(path.read_text()).get("services", {}) if path.exists() else {}
        self.values = {
            f"{name}_url": services[name]["url"]
            for name in ("referral", "notifier", "audit")
            if name in services
        }

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OVERGANG_", extra="ignore", hide_input_in_errors=True
    )

    host: str = Field("127.0.0.1", description="address the web front binds to")
    port: int = Field(8020, description="port the web front answers on")
    environment: Literal["development", "production"] = "development"
    referral_url: str = Field(description="the referral service's base URL")
    audit_url: str = Field(description="the audit service's base URL")
    session_key: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(32)),
        description="OVERGANG_SESSION_KEY: signs the session cookie (required in production; "
        "in development a new one per start signs everyone out)",
    )
    session_max_age_s: int = Field(8 * 3600, gt=0, description="a sign-in lasts this long")
    dev_issuer_dir: Path = Field(
        DEFAULT_DEV_ISSUER,
        description="development only: the local token issuer whose tokens the sign-in page "
        "hands out (pick an organisation and a role)",
    )

    @model_validator(mode="after")
    def _production_is_strict(self) -> Self:
        if self.environment == "production":
            # Production signs in through the county's OIDC provider: not built yet, and the
            # development sign-in (anyone picks any organisation) must never run there.
            raise ValueError("the web front has no production sign-in yet (OIDC): development only")
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
            _LocalStackServices(settings_cls),
        )
