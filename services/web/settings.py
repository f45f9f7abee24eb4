"""The web front's settings (`OVERGANG_*`): where the services answer, the OpenID Connect
provider people sign in with, and the key that signs the session cookie. What is unset comes
from the local stack's state file (the services' and the dev OIDC provider's addresses)."""

import json
import os
import secrets
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from services.plumbing.settings import DEFAULT_STACK_STATE

# The local stack's dev OIDC provider, as its state file names it (deploy/local/services.py).
DEV_OIDC = "dev-oidc"  # deploy.local.services.DEV_OIDC


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
        if DEV_OIDC in services:
            self.values["oidc_issuer"] = services[DEV_OIDC]["url"]

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
    oidc_issuer: str = Field(
        description="the OpenID Connect provider's issuer URL (the local dev provider in "
        "development; the county's identity provider in production, https)"
    )
    oidc_discovery_url: str | None = Field(
        None, description="where its configuration is, if not <issuer>/.well-known/..."
    )
    oidc_client_id: str = Field("overgang-web", description="the web front's client id there")
    oidc_client_secret: SecretStr = Field(description="the web front's client secret there")
    web_base_url: str | None = Field(
        None,
        description="the address people reach the web front at (the redirect URI is "
        "<this>/auth/callback); unset, http://<host>:<port> (required in production)",
    )

    @property
    def redirect_uri(self) -> str:
        base = self.web_base_url or f"http://{self.host}:{self.port}"
        return f"{base.rstrip('/')}/auth/callback"

    @model_validator(mode="after")
    def _production_is_strict(self) -> Self:
        if self.environment != "production":
            return self
        problems = []
        if "session_key" not in self.model_fields_set:
            problems.append("OVERGANG_SESSION_KEY must be set (every instance signs alike)")
        elif len(self.session_key.get_secret_value()) < 32:
            problems.append("OVERGANG_SESSION_KEY must be at least 32 characters")
        urls = {"oidc_issuer": self.oidc_issuer, "web_base_url": self.web_base_url}
        if self.oidc_discovery_url is not None:
            urls["oidc_discovery_url"] = self.oidc_discovery_url
        for name, value in urls.items():
            if value is None or urlsplit(value).scheme != "https":
                problems.append(f"OVERGANG_{name.upper()} must be an https URL")
        if not self.oidc_client_secret.get_secret_value():
            problems.append("OVERGANG_OIDC_CLIENT_SECRET must be set")
        if problems:
            raise ValueError("production: " + "; ".join(problems))
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
