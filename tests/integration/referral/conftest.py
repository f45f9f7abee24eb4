"""Fixtures for the referral store: this test's schema with the service's migrations applied,
the store's keys, and the small county of the domain tests stored in it."""

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import asyncpg
import pytest
from stdnum.no import fodselsnummer

from schemas.codes import Role
from schemas.directory import AgreementRegisteredV1, OrganisationRegisteredV1
from services.plumbing.migrations import migrate, migrations_folder
from services.referral.crypto import StoreKeys
from services.referral.domain.identity import NationalIdentityNumber, parse_identity_number
from services.referral.store import agreements, organisations, subjects
from services.referral.store.events import NewId
from tests.servers import Servers
from tests.unit.referral.factories import (
    ADULT,
    CAREER_CENTRE,
    FOLLOW_UP_SERVICE,
    MINOR,
    NAV,
    NAV_EAST,
    NOW,
    SCHOOL,
    actor,
    agreement,
)


@pytest.fixture
async def database_url(servers: Servers, schema: str) -> str:
    """A URL whose connections use this test's schema, migrated."""
    separator = "&" if "?" in servers.database_url else "?"
    url = f"{servers.database_url}{separator}{urlencode({'search_path': schema})}"
    connection = await asyncpg.connect(url)
    await migrate(connection, migrations_folder("services.referral"))
    await connection.close()
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the migrated schema."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


# Random per run; one pair for every test, so that helpers need not pass them around.
KEYS = StoreKeys(master_key=os.urandom(32), index_key=os.urandom(32))


@pytest.fixture
def keys() -> StoreKeys:
    return KEYS


def ids(*first: uuid.UUID) -> NewId:
    """Hands out the given ids first, then random ones."""
    queue = iter(first)

    def new_id() -> uuid.UUID:
        return next(queue, None) or uuid.uuid4()

    return new_id


def identity_number(birth: str = "010108", individual: str = "495") -> NationalIdentityNumber:
    """A valid fødselsnummer (with its check digits) for a day DDMMYY."""
    first = fodselsnummer.calc_check_digit1(birth + individual)
    second = fodselsnummer.calc_check_digit2(birth + individual + first)
    return parse_identity_number(birth + individual + first + second, allow_synthetic=False)


ADMIN = actor(FOLLOW_UP_SERVICE, Role.ADMIN)
ORGANISATIONS = (FOLLOW_UP_SERVICE, SCHOOL, NAV, NAV_EAST, CAREER_CENTRE)


@pytest.fixture
async def county(store: asyncpg.Connection, keys: StoreKeys) -> None:
    """The domain tests' organisations, agreement and two people, stored."""
    async with store.transaction():
        for n, organisation in enumerate(ORGANISATIONS):
            await organisations.save(
                store,
                OrganisationRegisteredV1(
                    organisation_id=organisation.organisation_id,
                    name=f"Organisation {n}",
                    type=organisation.type,
                    sector=organisation.sector,
                    county_number="03",
                    municipality_numbers=["0301"],
                    actor=ADMIN,
                    occurred_at=NOW - dt.timedelta(days=90),
                ),
                new_id=uuid.uuid4,
            )
        await agreements.save(store, agreement_registered(), new_id=uuid.uuid4)
        for person, number in ((ADULT, identity_number()), (MINOR, identity_number("010110"))):
            await subjects.register(
                store,
                number,
                birth_date=person.birth_date,
                keys=keys,
                actor=ADMIN,
                now=NOW - dt.timedelta(days=30),
                new_id=ids(person.subject_id),
            )


def agreement_registered() -> AgreementRegisteredV1:
    """The domain tests' agreement as its registration event."""
    known = agreement()
    return AgreementRegisteredV1(
        agreement_id=known.agreement_id,
        version=known.version,
        county_number=known.county_number,
        valid_from=known.valid_from,
        valid_until=known.valid_until,
        parties=sorted(known.parties, key=str),
        linkage_level=known.linkage_level,
        lead_organisation_id=known.lead_organisation_id,
        routes=list(known.routes),
        target_groups=list(known.target_groups),
        guardian_consent_below_age=known.guardian_consent_below_age,
        service_levels=known.service_levels,
        actor=ADMIN,
        occurred_at=NOW - dt.timedelta(days=60),
    )
