"""The subject repository: blind index, encryption at rest, restriction and erasure."""

import datetime as dt
import uuid

import asyncpg
import pytest

from schemas.ids import SubjectId
from schemas.person import RestrictionGround
from services.referral import crypto
from services.referral.crypto import CannotDecrypt, StoreKeys
from services.referral.store import subjects
from services.referral.store.errors import SubjectErased
from tests.integration.referral.conftest import ADMIN, identity_number
from tests.unit.referral.factories import NOW

pytestmark = pytest.mark.integration

NUMBER = identity_number("150607", "512")
NAME = "Kari Nordmann"
CONTACT = "kari@example.no"
BIRTH = dt.date(2007, 6, 15)


async def register(store: asyncpg.Connection, keys: StoreKeys) -> subjects.Registration:
    async with store.transaction():
        return await subjects.register(
            store,
            NUMBER,
            birth_date=BIRTH,
            name=NAME,
            contact=CONTACT,
            keys=keys,
            actor=ADMIN,
            now=NOW,
            new_id=uuid.uuid4,
        )


async def everything_stored(store: asyncpg.Connection) -> list[object]:
    """Every value of every column of every table in the test's schema."""
    tables = await store.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    )
    values: list[object] = []
    for table in tables:
        for row in await store.fetch(f'SELECT * FROM "{table["tablename"]}"'):  # noqa: S608
            values.extend(row.values())
    return values


async def test_registering_the_same_number_twice_gives_the_same_subject(
    store: asyncpg.Connection, keys: StoreKeys
) -> None:
    first = await register(store, keys)
    again = await register(store, keys)
    assert first.created
    assert not again.created
    assert again.subject_id == first.subject_id
    assert await store.fetchval("SELECT count(*) FROM subjects") == 1
    registered = await store.fetchval(
        "SELECT count(*) FROM outbox"
        " WHERE headers->>'ce_type' = 'no.overgang.subject.registered.v1'"
    )
    assert registered == 1


async def test_the_number_and_name_are_nowhere_in_clear_text(
    store: asyncpg.Connection, keys: StoreKeys
) -> None:
    await register(store, keys)
    secrets = [NUMBER.digits, NAME, CONTACT, BIRTH.isoformat()]
    for value in await everything_stored(store):
        for secret in secrets:
            if isinstance(value, bytes):
                assert secret.encode() not in value
            else:
                assert secret not in str(value)


async def test_the_persons_data_reads_back_with_the_keys(
    store: asyncpg.Connection, keys: StoreKeys
) -> None:
    registration = await register(store, keys)
    data = await subjects.personal_data(store, registration.subject_id, keys)
    assert (data.identity_number, data.birth_date, data.name, data.contact) == (
        NUMBER.digits,
        BIRTH,
        NAME,
        CONTACT,
    )
    subject = await subjects.get(store, registration.subject_id, keys)
    assert subject.birth_date == BIRTH


async def test_another_master_key_cannot_read_the_data(
    store: asyncpg.Connection, keys: StoreKeys
) -> None:
    registration = await register(store, keys)
    other = StoreKeys(master_key=bytes(32), index_key=keys.index_key)
    with pytest.raises(CannotDecrypt):
        await subjects.personal_data(store, registration.subject_id, other)


async def test_restriction_is_recorded_once_with_its_event(
    store: asyncpg.Connection, keys: StoreKeys
) -> None:
    registration = await register(store, keys)
    async with store.transaction():
        await subjects.restrict(
            store,
            registration.subject_id,
            RestrictionGround.ACCURACY_CONTESTED,
            actor=ADMIN,
            now=NOW,
            new_id=uuid.uuid4,
        )
    data = await subjects.personal_data(store, registration.subject_id, keys)
    assert data.restricted_at == NOW


async def test_after_erasure_the_identity_number_cannot_be_decrypted(
    store: asyncpg.Connection, keys: StoreKeys
) -> None:
    registration = await register(store, keys)
    row = await store.fetchrow(
        "SELECT wrapped_key, identity_number FROM subjects WHERE subject_id = $1",
        registration.subject_id,
    )
    assert row is not None
    async with store.transaction():
        await subjects.erase(
            store, registration.subject_id, actor=ADMIN, now=NOW, new_id=uuid.uuid4
        )
    after = await store.fetchrow(
        "SELECT wrapped_key, blind_index, identity_number FROM subjects WHERE subject_id = $1",
        registration.subject_id,
    )
    assert after is not None
    assert after["wrapped_key"] is None
    assert after["blind_index"] is None
    assert after["identity_number"] == row["identity_number"]  # still there, unreadable
    with pytest.raises(CannotDecrypt):
        crypto.unwrap_key(after["wrapped_key"], keys.master_key, registration.subject_id)
    with pytest.raises(SubjectErased):
        await subjects.personal_data(store, registration.subject_id, keys)
    # The destroyed key was the only way in: no other key opens the ciphertext.
    with pytest.raises(CannotDecrypt):
        crypto.decrypt(after["identity_number"], keys.master_key, registration.subject_id)


async def test_the_same_number_after_erasure_is_a_new_subject(
    store: asyncpg.Connection, keys: StoreKeys
) -> None:
    erased = await register(store, keys)
    async with store.transaction():
        await subjects.erase(store, erased.subject_id, actor=ADMIN, now=NOW, new_id=uuid.uuid4)
    again = await register(store, keys)
    assert again.created
    assert again.subject_id != SubjectId(erased.subject_id)
