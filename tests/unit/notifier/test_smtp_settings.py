"""The notifier's e-mail settings: an empty variable is an unset one (deployment files pass
optional variables that way), and production sends e-mail over verified STARTTLS only."""

import os

import pytest

from services.notifier.app import NotifierSettings

GIVEN = {
    "kafka_bootstrap": "kafka.example:9092",
    "database_url": "postgresql://notifier:password@database.example/notifier",
}


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OVERGANG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OVERGANG_STACK_STATE", "/nonexistent/stack.json")


def test_empty_smtp_variables_leave_e_mail_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OVERGANG_SMTP_HOST", "OVERGANG_SMTP_USERNAME", "OVERGANG_SMTP_PASSWORD"):
        monkeypatch.setenv(name, "")
    settings = NotifierSettings(**GIVEN)  # type: ignore[arg-type]
    assert (settings.smtp_host, settings.smtp_username, settings.smtp_password) == (None,) * 3
    assert settings.smtp() is None


def test_a_host_turns_e_mail_on_with_the_login_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERGANG_SMTP_HOST", "smtp.example.no")
    monkeypatch.setenv("OVERGANG_SMTP_USERNAME", "varsel")
    monkeypatch.setenv("OVERGANG_SMTP_PASSWORD", "hemmelig")
    smtp = NotifierSettings(**GIVEN).smtp()  # type: ignore[arg-type]
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.username, smtp.password) == (
        "smtp.example.no",
        587,
        "varsel",
        "hemmelig",
    )
    assert smtp.starttls
    assert smtp.validate_certs
    assert "hemmelig" not in repr(smtp)


@pytest.mark.parametrize("unverified", ["OVERGANG_SMTP_STARTTLS", "OVERGANG_SMTP_VALIDATE_CERTS"])
def test_production_refuses_e_mail_without_verified_starttls(
    monkeypatch: pytest.MonkeyPatch, unverified: str
) -> None:
    monkeypatch.setenv("OVERGANG_SMTP_HOST", "smtp.example.no")
    monkeypatch.setenv(unverified, "false")
    NotifierSettings(**GIVEN)  # type: ignore[arg-type]  # development allows it
    monkeypatch.setenv("OVERGANG_ENVIRONMENT", "production")
    monkeypatch.setenv("OVERGANG_SECRET_KEY", "b3Zlcmdhbmctc2VjcmV0LWtleS1vZi0zMi1ieXRlcyE=")
    monkeypatch.setenv("OVERGANG_AUTH_ISSUER", "https://login.example.no")
    monkeypatch.setenv("OVERGANG_AUTH_JWKS", "https://login.example.no/jwks.json")
    with pytest.raises(ValueError, match="verified STARTTLS"):
        NotifierSettings(**GIVEN)  # type: ignore[arg-type]


def test_the_from_address_must_be_a_mailbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERGANG_SMTP_FROM_ADDRESS", "not an address")
    with pytest.raises(ValueError, match="OVERGANG_SMTP_FROM_ADDRESS"):
        NotifierSettings(**GIVEN)  # type: ignore[arg-type]
