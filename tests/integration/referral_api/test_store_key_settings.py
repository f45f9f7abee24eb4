"""The store's keys come from settings: development has defaults, production none."""

import base64
import os

import pytest
from pydantic import ValidationError

from services.plumbing.auth import DEV_ISSUER
from services.referral.app import MissingStoreKeys, ReferralSettings, create_app


def _settings(
    *, production: bool = False, master_key: str | None = None, index_key: str | None = None
) -> ReferralSettings:
    return ReferralSettings(
        kafka_bootstrap="127.0.0.1:1",
        database_url="postgresql://u:p@127.0.0.1:1/d",
        environment="production" if production else "development",
        auth_issuer="https://login.example.no" if production else DEV_ISSUER,
        auth_jwks="https://login.example.no/jwks" if production else "jwks.json",
        master_key=master_key,
        index_key=index_key,
    )


@pytest.fixture(autouse=True)
def _no_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OVERGANG_MASTER_KEY", "OVERGANG_INDEX_KEY", "OVERGANG_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_development_has_default_keys_that_differ() -> None:
    keys = _settings().store_keys()

    assert len(keys.master_key) == len(keys.index_key) == 32
    assert keys.master_key != keys.index_key


def test_production_refuses_to_build_the_service_without_keys_and_says_which() -> None:
    settings = _settings(production=True, index_key=_key())

    with pytest.raises(MissingStoreKeys, match="OVERGANG_MASTER_KEY must be set in production"):
        create_app(settings)


def test_production_takes_the_keys_it_is_given() -> None:
    master, index = _key(), _key()

    keys = _settings(production=True, master_key=master, index_key=index).store_keys()

    assert keys.master_key == base64.b64decode(master)
    assert keys.index_key == base64.b64decode(index)


def test_a_key_of_the_wrong_length_is_refused_without_being_shown() -> None:
    short = base64.b64encode(b"sixteen byte key").decode()

    with pytest.raises(
        ValidationError, match="OVERGANG_MASTER_KEY must be the base64 of 32"
    ) as info:
        _settings(master_key=short)

    assert short not in str(info.value)
