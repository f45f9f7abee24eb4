"""Service settings come from the environment, else from the local stack's state file."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.audit.app import AuditSettings
from services.referral.app import ReferralSettings


@pytest.fixture
def state_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "stack.json"
    path.write_text(
        json.dumps(
            {
                "kafka": {"bootstrap": "127.0.0.1:19092", "process": None},
                "postgres": {
                    "url": "postgresql://overgang:secret@127.0.0.1:5/postgres",
                    "databases": {
                        "referral": "postgresql://overgang:secret@127.0.0.1:5/referral",
                        "audit": "postgresql://overgang:secret@127.0.0.1:5/audit",
                    },
                    "process": None,
                },
                "services": {},
            }
        )
    )
    monkeypatch.setenv("OVERGANG_STACK_STATE", str(path))
    for name in ("OVERGANG_KAFKA_BOOTSTRAP", "OVERGANG_DATABASE_URL", "OVERGANG_PORT"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_each_service_finds_its_own_database_in_the_stack_state(state_file: Path) -> None:
    referral, audit = ReferralSettings(), AuditSettings()

    assert referral.kafka_bootstrap == "127.0.0.1:19092"
    assert referral.database_url.get_secret_value().endswith("/referral")
    assert audit.database_url.get_secret_value().endswith("/audit")
    assert (referral.port, audit.port) == (8000, 8002)


def test_the_environment_wins_over_the_stack_state(
    state_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERGANG_KAFKA_BOOTSTRAP", "kafka.example:9092")
    monkeypatch.setenv("OVERGANG_PORT", "9000")

    settings = ReferralSettings()

    assert settings.kafka_bootstrap == "kafka.example:9092"
    assert settings.port == 9000


def test_the_database_password_stays_out_of_the_settings_text(state_file: Path) -> None:
    settings = ReferralSettings()

    assert "secret" not in repr(settings)
    assert "secret" not in str(settings.model_dump())


def test_production_refuses_the_development_token_issuer(
    state_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERGANG_ENVIRONMENT", "production")

    with pytest.raises(ValidationError, match="refuses the development token issuer"):
        ReferralSettings()

    monkeypatch.setenv("OVERGANG_AUTH_ISSUER", "https://login.example.no")
    monkeypatch.setenv("OVERGANG_AUTH_JWKS", "http://login.example.no/jwks")
    with pytest.raises(ValidationError, match="https URL"):
        ReferralSettings()

    monkeypatch.setenv("OVERGANG_AUTH_JWKS", "https://login.example.no/jwks")
    assert ReferralSettings().auth_issuer == "https://login.example.no"
