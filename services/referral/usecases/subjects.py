"""Subjects: register a person by identity number and get their subject_id; the same person
registered twice gets the same subject_id."""

import datetime as dt
from dataclasses import dataclass, field

from schemas.codes import Role
from services.plumbing.auth import Principal
from services.plumbing.database import Connection
from services.referral.crypto import StoreKeys
from services.referral.domain.identity import parse_identity_number
from services.referral.store import subjects as store
from services.referral.store.subjects import Registration
from services.referral.usecases.acting import Clock, actor_of, new_id, now


@dataclass(frozen=True, repr=False)
class PersonDetails:
    """What is known about a person when they are registered; never in a repr or a log."""

    identity_number: str = field(repr=False)
    birth_date: dt.date = field(repr=False)
    name: str | None = field(default=None, repr=False)
    contact: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return "PersonDetails(<hidden>)"


async def register_subject(
    connection: Connection,
    person: PersonDetails,
    principal: Principal,
    *,
    keys: StoreKeys,
    allow_synthetic: bool,
    clock: Clock = now,
) -> Registration:
    """The person's subject_id, new (SubjectRegisteredV1) or the one they have already.
    InvalidIdentityNumber, which never repeats the number, when it is not valid."""
    number = parse_identity_number(person.identity_number, allow_synthetic=allow_synthetic)
    async with connection.transaction():
        return await store.register(
            connection,
            number,
            birth_date=person.birth_date,
            name=person.name,
            contact=person.contact,
            keys=keys,
            actor=actor_of(principal, Role.FILER, Role.COORDINATOR),
            now=clock(),
            new_id=new_id,
        )
