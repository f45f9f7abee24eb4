"""Rotating the notifier's secret key: the old key retired still opens the signing secrets it
sealed, `reseal` seals each anew by the new key (e-mail subscriptions have none), then the old
key can go; a secret no configured key opens is named. And the command, with its exit codes."""

import asyncio
import base64
import datetime as dt
import json
import os
import uuid

import asyncpg
import pytest

from deploy.local import cli
from schemas.ids import ActorId, OrganisationId
from services.notifier.domain.targets import check_url
from services.notifier.sealing import CannotOpen, SecretBox
from services.notifier.store import subscriptions as store
from services.notifier.usecases import subscriptions
from services.plumbing.key_rotation import rotate
from tests.integration.notifier.conftest import subscribe_email

pytestmark = pytest.mark.integration

OLD = SecretBox(os.urandom(32))
NEW_KEY = os.urandom(32)
ROTATING = SecretBox(NEW_KEY, retired=(OLD.key,))
ROTATED = SecretBox(NEW_KEY)


async def webhook(pool: asyncpg.Pool, box: SecretBox) -> tuple[uuid.UUID, str]:
    async with pool.acquire() as connection:
        created = await subscriptions.create_webhook(
            connection,
            organisation_id=OrganisationId(uuid.uuid4()),
            actor_id=ActorId(uuid.uuid4()),
            target=check_url("https://hooks.example.no/overgang", production=False),
            event_types=["no.overgang.referral.submitted.v1"],
            box=box,
            now=dt.datetime.now(dt.UTC),
        )
    assert created.secret is not None
    return created.subscription.subscription_id, created.secret


async def secret(pool: asyncpg.Pool, subscription_id: uuid.UUID, box: SecretBox) -> str | None:
    async with pool.acquire() as connection:
        return await subscriptions.secret_again(connection, subscription_id, box)


async def test_after_reseal_the_new_key_alone_opens_every_secret(pool: asyncpg.Pool) -> None:
    hooks = [await webhook(pool, OLD) for _ in range(3)]
    await subscribe_email(pool, uuid.uuid4(), "nav@example.no")
    assert [await secret(pool, hook, ROTATING) for hook, _ in hooks] == [s for _, s in hooks]

    done = await rotate(pool, store.reseal_secrets(ROTATING), size=2)

    assert (done.checked, done.resealed, done.unopened) == (3, 3, [])
    for hook, signing_secret in hooks:
        assert await secret(pool, hook, ROTATED) == signing_secret
        with pytest.raises(CannotOpen):
            await secret(pool, hook, OLD)
    again = await rotate(pool, store.reseal_secrets(ROTATED))
    assert (again.checked, again.resealed) == (3, 0)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


async def test_overgang_keys_reseal_reseals_and_names_a_secret_no_key_opens(
    pool: asyncpg.Pool,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hook, signing_secret = await webhook(pool, OLD)
    stranger, _ = await webhook(pool, SecretBox(os.urandom(32)))
    monkeypatch.setenv("OVERGANG_ENVIRONMENT", "development")
    monkeypatch.setenv("OVERGANG_SECRET_KEY", _b64(NEW_KEY))
    monkeypatch.setenv("OVERGANG_RETIRED_SECRET_KEYS", _b64(OLD.key))

    code = await overgang("keys", "reseal", "--database-url", database_url)

    assert code == 1
    assert json.loads(capsys.readouterr().out) == {
        "complete": False,
        "checked": 2,
        "resealed": 1,
        "unopened": [str(stranger)],
    }
    assert await secret(pool, hook, ROTATED) == signing_secret


async def test_overgang_keys_reseal_refuses_a_short_key_without_echoing_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OVERGANG_ENVIRONMENT", "development")
    monkeypatch.setenv("OVERGANG_SECRET_KEY", _b64(NEW_KEY))
    monkeypatch.setenv("OVERGANG_RETIRED_SECRET_KEYS", "c2hvcnQ=")  # "short"

    code = await overgang("keys", "reseal", "--database-url", database_url)

    error = capsys.readouterr().err
    assert code == 1
    assert "OVERGANG_RETIRED_SECRET_KEYS must be the base64 of 32 bytes" in error
    assert "c2hvcnQ" not in error


async def overgang(*argv: str) -> int:
    """The command line, in a thread: it runs its own event loop beside the test's."""
    return await asyncio.to_thread(cli.main, list(argv))
