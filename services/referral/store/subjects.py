"""Persons: registered by identity number, found again by its blind index, their data kept
encrypted under their own key, and erased by destroying that key."""

import datetime as dt
import functools
import uuid
from dataclasses import dataclass, field

from schemas.actors import Actor
from schemas.ids import SubjectId
from schemas.person import (
    RestrictionGround,
    RestrictionLiftGround,
    SubjectErasedV1,
    SubjectRegisteredV1,
    SubjectRestrictedV1,
    SubjectRestrictionLiftedV1,
)
from services.plumbing.database import Connection
from services.plumbing.key_rotation import Batch, SealedColumn, Unopenable, reseal_batch
from services.referral import crypto
from services.referral.crypto import StoreKeys
from services.referral.domain.identity import NationalIdentityNumber
from services.referral.domain.subjects import Subject
from services.referral.store.errors import NotFound, NotRestricted, SubjectErased
from services.referral.store.events import NewId, enqueue_all


@dataclass(frozen=True, repr=False)
class Registration:
    """The result of registering a person: their subject_id, and whether they were new."""

    subject_id: SubjectId
    created: bool

    def __repr__(self) -> str:
        return f"Registration(subject_id={self.subject_id!s}, created={self.created})"


@dataclass(frozen=True)
class PersonalData:
    """What the store holds about a person, decrypted: for export, never for logs."""

    subject_id: SubjectId
    identity_number: str = field(repr=False)
    birth_date: dt.date = field(repr=False)
    name: str | None = field(repr=False)
    contact: str | None = field(repr=False)
    registered_at: dt.datetime
    restricted_at: dt.datetime | None


async def register(
    connection: Connection,
    number: NationalIdentityNumber,
    *,
    birth_date: dt.date,
    name: str | None = None,
    contact: str | None = None,
    keys: StoreKeys,
    actor: Actor,
    now: dt.datetime,
    new_id: NewId,
) -> Registration:
    """The person's subject_id: the existing one when the number is registered already,
    otherwise a new one (and SubjectRegisteredV1 to the outbox)."""
    index = crypto.blind_index(number.digits, keys.index_key)
    existing = await connection.fetchval(
        "SELECT subject_id FROM subjects WHERE blind_index = $1", index
    )
    if existing is not None:
        return Registration(SubjectId(existing), created=False)
    subject_id = SubjectId(new_id())
    data_key = crypto.new_data_key()

    def sealed(text: str | None) -> bytes | None:
        return None if text is None else crypto.encrypt(text, data_key, subject_id)

    # Two registrations of one person at once: the second finds the first's row.
    inserted = await connection.fetchval(
        """INSERT INTO subjects (subject_id, blind_index, wrapped_key, identity_number,
               birth_date, name, contact, registered_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (blind_index) DO NOTHING RETURNING subject_id""",
        subject_id,
        index,
        keys.wrap(data_key, subject_id),
        sealed(number.digits),
        sealed(birth_date.isoformat()),
        sealed(name),
        sealed(contact),
        now,
    )
    if inserted is None:
        existing = await connection.fetchval(
            "SELECT subject_id FROM subjects WHERE blind_index = $1", index
        )
        return Registration(SubjectId(existing), created=False)
    event = SubjectRegisteredV1(subject_id=subject_id, actor=actor, occurred_at=now)
    await enqueue_all(connection, [event], new_id=new_id, now=now)
    return Registration(subject_id, created=True)


async def get(connection: Connection, subject_id: SubjectId, keys: StoreKeys) -> Subject:
    """The person as the rules see them; NotFound, or SubjectErased after erasure."""
    subject, _ = await get_with_restriction(connection, subject_id, keys)
    return subject


async def get_with_restriction(
    connection: Connection, subject_id: SubjectId, keys: StoreKeys
) -> tuple[Subject, dt.datetime | None]:
    """The person as the rules see them and since when processing of their data is restricted
    (None: it is not), in one read that opens the birth date only; NotFound, or SubjectErased
    after erasure."""
    row = await connection.fetchrow(
        "SELECT wrapped_key, birth_date, erased_at, restricted_at FROM subjects"
        " WHERE subject_id = $1",
        subject_id,
    )
    if row is None:
        raise NotFound(f"no subject {subject_id}")
    if row["erased_at"] is not None:
        raise SubjectErased(f"subject {subject_id} was erased")
    data_key = keys.unwrap(row["wrapped_key"], subject_id)
    birth_date = dt.date.fromisoformat(crypto.decrypt(row["birth_date"], data_key, subject_id))
    return Subject(subject_id, birth_date=birth_date), row["restricted_at"]


async def data_key(connection: Connection, subject_id: SubjectId, keys: StoreKeys) -> bytes:
    """The person's data key, to seal or open what is kept about them; NotFound, or
    SubjectErased once the key is destroyed."""
    row = await connection.fetchrow(
        "SELECT wrapped_key, erased_at FROM subjects WHERE subject_id = $1", subject_id
    )
    if row is None:
        raise NotFound(f"no subject {subject_id}")
    if row["erased_at"] is not None:
        raise SubjectErased(f"subject {subject_id} was erased")
    return keys.unwrap(row["wrapped_key"], subject_id)


async def restricted_since(connection: Connection, subject_id: SubjectId) -> dt.datetime | None:
    """When processing of the person's data was restricted, if it is; NotFound, or
    SubjectErased."""
    row = await connection.fetchrow(
        "SELECT restricted_at, erased_at FROM subjects WHERE subject_id = $1", subject_id
    )
    if row is None:
        raise NotFound(f"no subject {subject_id}")
    if row["erased_at"] is not None:
        raise SubjectErased(f"subject {subject_id} was erased")
    restricted: dt.datetime | None = row["restricted_at"]
    return restricted


async def personal_data(
    connection: Connection, subject_id: SubjectId, keys: StoreKeys
) -> PersonalData:
    """Everything held about the person, decrypted; NotFound, or SubjectErased."""
    row = await connection.fetchrow("SELECT * FROM subjects WHERE subject_id = $1", subject_id)
    if row is None:
        raise NotFound(f"no subject {subject_id}")
    if row["erased_at"] is not None:
        raise SubjectErased(f"subject {subject_id} was erased")
    data_key = keys.unwrap(row["wrapped_key"], subject_id)

    def opened(column: str) -> str | None:
        value: bytes | None = row[column]
        return None if value is None else crypto.decrypt(value, data_key, subject_id)

    return PersonalData(
        subject_id=subject_id,
        identity_number=str(opened("identity_number")),
        birth_date=dt.date.fromisoformat(str(opened("birth_date"))),
        name=opened("name"),
        contact=opened("contact"),
        registered_at=row["registered_at"],
        restricted_at=row["restricted_at"],
    )


async def restrict(
    connection: Connection,
    subject_id: SubjectId,
    ground: RestrictionGround,
    *,
    actor: Actor,
    now: dt.datetime,
    new_id: NewId,
) -> None:
    """Restrict processing of the person's data (GDPR art. 18); SubjectRestrictedV1."""
    changed = await connection.fetchval(
        """UPDATE subjects SET restricted_at = coalesce(restricted_at, $2), restriction_ground = $3
           WHERE subject_id = $1 AND erased_at IS NULL RETURNING true""",
        subject_id,
        now,
        ground.value,
    )
    if not changed:
        raise NotFound(f"no subject {subject_id} that is not erased")
    event = SubjectRestrictedV1(subject_id=subject_id, ground=ground, actor=actor, occurred_at=now)
    await enqueue_all(connection, [event], new_id=new_id, now=now)


async def lift_restriction(
    connection: Connection,
    subject_id: SubjectId,
    ground: RestrictionLiftGround,
    *,
    actor: Actor,
    now: dt.datetime,
    new_id: NewId,
) -> dt.datetime:
    """End the restriction of the person's data; SubjectRestrictionLiftedV1, and since when it
    was restricted. NotRestricted when it is not; NotFound when there is no such person who is
    not erased (erasure restricts for good)."""
    since: dt.datetime | None = await connection.fetchval(
        """UPDATE subjects SET restricted_at = NULL, restriction_ground = NULL
           FROM (SELECT restricted_at AS since FROM subjects WHERE subject_id = $1 FOR UPDATE)
               AS before
           WHERE subject_id = $1 AND erased_at IS NULL AND restricted_at IS NOT NULL
           RETURNING before.since""",
        subject_id,
    )
    if since is None:
        await restricted_since(connection, subject_id)  # NotFound, SubjectErased
        raise NotRestricted(f"processing of subject {subject_id}'s data is not restricted")
    event = SubjectRestrictionLiftedV1(
        subject_id=subject_id, ground=ground, actor=actor, occurred_at=now
    )
    await enqueue_all(connection, [event], new_id=new_id, now=now)
    return since


async def erase(
    connection: Connection, subject_id: SubjectId, *, actor: Actor, now: dt.datetime, new_id: NewId
) -> None:
    """Destroy the person's key (crypto-shredding): the ciphertexts stay, unreadable, and the
    blind index goes, so that the number no longer leads here; SubjectErasedV1."""
    changed = await connection.fetchval(
        """UPDATE subjects SET wrapped_key = NULL, blind_index = NULL, erased_at = $2,
               restricted_at = coalesce(restricted_at, $2)
           WHERE subject_id = $1 AND erased_at IS NULL RETURNING true""",
        subject_id,
        now,
    )
    if not changed:
        raise NotFound(f"no subject {subject_id} that is not erased")
    event = SubjectErasedV1(subject_id=subject_id, actor=actor, occurred_at=now)
    await enqueue_all(connection, [event], new_id=new_id, now=now)


# Each person's data key, wrapped by the master key (NULL once erased: nothing to rewrap).
WRAPPED_KEYS = SealedColumn("subjects", "subject_id", "wrapped_key")


@dataclass(frozen=True)
class DataKeyWrapping:
    """The store's keys as a master key rotation needs them."""

    keys: StoreKeys

    def sealed_by_current_key(self, sealed: bytes, row_id: uuid.UUID) -> bool:
        return self.keys.wrapped_by_master_key(sealed, row_id)

    def reseal(self, sealed: bytes, row_id: uuid.UUID) -> bytes:
        try:
            return self.keys.wrap(self.keys.unwrap(sealed, row_id), row_id)
        except crypto.CannotDecrypt:
            raise Unopenable from None


def rewrap_batch(keys: StoreKeys) -> Batch:
    """One batch of a master key rotation: the next persons' data keys, wrapped anew."""
    return functools.partial(reseal_batch, where=WRAPPED_KEYS, sealer=DataKeyWrapping(keys))
