"""Rotating the master key: the old key retired still opens what it wrapped, `rewrap` moves
every data key to the new master key (batch by batch, again and again with nothing left to
do), then the old key can go; a key that no configured key opens is named, never skipped
silently. And the command that does it, with its exit codes."""

import asyncio
import base64
import datetime as dt
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from deploy.local import cli
from schemas.ids import SubjectId
from services.plumbing.key_rotation import Rotation, rotate
from services.referral.crypto import CannotDecrypt, StoreKeys
from services.referral.domain.errors import InvalidIdentityNumber
from services.referral.domain.identity import NationalIdentityNumber
from services.referral.store import subjects
from tests.integration.referral.conftest import ADMIN, identity_number
from tests.unit.referral.factories import NOW

pytestmark = pytest.mark.integration

OLD = StoreKeys(master_key=os.urandom(32), index_key=os.urandom(32))
NEW_MASTER = os.urandom(32)
ROTATING = StoreKeys(NEW_MASTER, OLD.index_key, retired_master_keys=(OLD.master_key,))
ROTATED = StoreKeys(NEW_MASTER, OLD.index_key)


def numbers(count: int) -> list[NationalIdentityNumber]:
    found = []
    for individual in range(500, 1000):
        try:
            found.append(identity_number("150607", str(individual)))
        except InvalidIdentityNumber:
            continue  # no valid check digit for this one
        if len(found) == count:
            return found
    raise AssertionError("not enough valid numbers")


async def register_all(
    store: asyncpg.Connection, keys: StoreKeys, count: int, *, birth: str = "150607"
) -> list[SubjectId]:
    registered = []
    for number in numbers(count) if birth == "150607" else [identity_number(birth, "512")]:
        async with store.transaction():
            registration = await subjects.register(
                store,
                number,
                birth_date=dt.date(2007, 6, 15),
                name="Kari Nordmann",
                contact=None,
                keys=keys,
                actor=ADMIN,
                now=NOW,
                new_id=uuid.uuid4,
            )
        registered.append(registration.subject_id)
    return registered


async def rewrap_all(pool: asyncpg.Pool, keys: StoreKeys, **options: Any) -> Rotation:
    return await rotate(pool, subjects.rewrap_batch(keys), **options)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as opened:
        yield opened


async def test_after_rewrap_the_new_master_key_alone_opens_every_persons_data(
    store: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    people = await register_all(store, OLD, 7)
    async with store.transaction():
        await subjects.erase(store, people[-1], actor=ADMIN, now=NOW, new_id=uuid.uuid4)
    kept = people[:-1]
    # While rotating: the retired key still opens what it wrapped; new persons get the new key.
    for subject_id in kept:
        assert (await subjects.personal_data(store, subject_id, ROTATING)).name == "Kari Nordmann"
    with pytest.raises(CannotDecrypt):
        await subjects.personal_data(store, kept[0], ROTATED)
    heard: list[int] = []

    done = await rewrap_all(
        pool, ROTATING, size=4, progress=lambda so_far: heard.append(so_far.checked)
    )

    assert (done.checked, done.resealed, done.unopened) == (6, 6, [])
    assert done.complete
    assert heard == [4, 6]  # after each batch; the erased person has no key to look at
    for subject_id in kept:
        assert (await subjects.personal_data(store, subject_id, ROTATED)).name == "Kari Nordmann"
        with pytest.raises(CannotDecrypt):
            await subjects.personal_data(store, subject_id, OLD)
    again = await rewrap_all(pool, ROTATED)
    assert (again.checked, again.resealed, again.unopened) == (6, 0, [])


async def test_a_key_no_configured_key_opens_is_named_and_the_others_are_rewrapped(
    store: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    people = await register_all(store, OLD, 3)
    unknown = StoreKeys(master_key=os.urandom(32), index_key=OLD.index_key)
    [stranger] = await register_all(store, unknown, 1, birth="010108")

    done = await rewrap_all(pool, ROTATING)

    assert done.unopened == [stranger]
    assert not done.complete
    assert done.resealed == 3
    for subject_id in people:
        await subjects.personal_data(store, subject_id, ROTATED)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@pytest.fixture
def rotating_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERGANG_ENVIRONMENT", "development")
    monkeypatch.setenv("OVERGANG_MASTER_KEY", _b64(NEW_MASTER))
    monkeypatch.setenv("OVERGANG_INDEX_KEY", _b64(OLD.index_key))
    monkeypatch.setenv(
        "OVERGANG_RETIRED_MASTER_KEYS", f" {_b64(os.urandom(32))}, {_b64(OLD.master_key)}"
    )


@pytest.mark.usefixtures("rotating_settings")
async def test_overgang_keys_rewrap_rewraps_with_the_services_settings(
    store: asyncpg.Connection, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    people = await register_all(store, OLD, 2)

    code = await overgang("keys", "rewrap", "--database-url", database_url)

    assert code == 0
    said = json.loads(capsys.readouterr().out)
    assert said == {"complete": True, "checked": 2, "resealed": 2, "unopened": []}
    for subject_id in people:
        await subjects.personal_data(store, subject_id, ROTATED)


@pytest.mark.usefixtures("rotating_settings")
async def test_overgang_keys_rewrap_exits_1_naming_the_persons_no_key_opens(
    store: asyncpg.Connection, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = StoreKeys(master_key=os.urandom(32), index_key=OLD.index_key)
    [stranger] = await register_all(store, unknown, 1, birth="010108")

    code = await overgang("keys", "rewrap", "--database-url", database_url)

    assert code == 1
    printed = capsys.readouterr()
    assert json.loads(printed.out)["unopened"] == [str(stranger)]
    assert "1 persons' keys open with no configured key" in printed.err


async def test_overgang_keys_rewrap_refuses_a_bad_key_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OVERGANG_ENVIRONMENT", "development")
    monkeypatch.setenv("OVERGANG_MASTER_KEY", _b64(NEW_MASTER))
    monkeypatch.setenv("OVERGANG_INDEX_KEY", _b64(OLD.index_key))
    monkeypatch.setenv("OVERGANG_RETIRED_MASTER_KEYS", "not-base64-secret!")

    code = await overgang("keys", "rewrap", "--database-url", database_url)

    printed = capsys.readouterr()
    assert code == 1
    assert printed.out == ""
    assert "OVERGANG_RETIRED_MASTER_KEYS must be base64" in printed.err
    assert "not-base64-secret" not in printed.err


@pytest.mark.usefixtures("rotating_settings")
async def test_overgang_keys_rewrap_says_when_the_database_cannot_be_reached(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = await overgang("keys", "rewrap", "--database-url", "postgresql://nobody@127.0.0.1:1/x")

    assert code == 1
    assert "overgang: the database cannot be reached" in capsys.readouterr().err


async def overgang(*argv: str) -> int:
    """The command line, in a thread: it runs its own event loop beside the test's."""
    return await asyncio.to_thread(cli.main, list(argv))


def test_a_retired_master_key_may_not_be_the_index_key() -> None:
    with pytest.raises(ValueError, match="index key must differ"):
        StoreKeys(NEW_MASTER, OLD.index_key, retired_master_keys=(OLD.index_key,))


def test_a_destroyed_key_stays_destroyed_whatever_keys_are_retired() -> None:
    with pytest.raises(CannotDecrypt, match="destroyed"):
        ROTATING.unwrap(None, SubjectId(uuid.uuid4()))
