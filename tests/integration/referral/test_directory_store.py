"""The organisation and agreement repositories on the real PostgreSQL."""

import datetime as dt
import uuid

import asyncpg
import pytest

from schemas.directory import AgreementAmendedV1, OrganisationUpdatedV1
from schemas.ids import OrganisationId
from schemas.topics import DIRECTORY
from services.referral.domain.errors import StaleVersion
from services.referral.store import agreements, organisations
from services.referral.store.errors import NotFound
from tests.integration.referral.conftest import ADMIN, ORGANISATIONS, agreement_registered
from tests.unit.referral.factories import AGREEMENT_ID, NAV, NOW, agreement

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("county")]


async def test_an_organisation_reads_back_as_it_was_registered(store: asyncpg.Connection) -> None:
    for organisation in ORGANISATIONS:
        assert await organisations.get(store, organisation.organisation_id) == organisation


async def test_an_unknown_organisation_is_not_found(store: asyncpg.Connection) -> None:
    with pytest.raises(NotFound):
        await organisations.get(store, OrganisationId(uuid.uuid4()))


async def test_an_update_changes_the_entry_and_goes_to_the_outbox(
    store: asyncpg.Connection,
) -> None:
    update = OrganisationUpdatedV1(
        organisation_id=NAV.organisation_id,
        name="NAV Sentrum",
        type=NAV.type,
        sector=NAV.sector,
        county_number="03",
        municipality_numbers=["0301", "3201"],
        actor=ADMIN,
        occurred_at=NOW,
    )
    async with store.transaction():
        await organisations.save(store, update, new_id=uuid.uuid4)
    row = await store.fetchrow(
        "SELECT name, municipality_numbers FROM organisations WHERE organisation_id = $1",
        NAV.organisation_id,
    )
    assert row is not None
    assert (row["name"], row["municipality_numbers"]) == ("NAV Sentrum", ["0301", "3201"])
    types = await store.fetch(
        "SELECT headers->>'ce_type' AS type FROM outbox WHERE topic = $1 AND partition_key = $2",
        DIRECTORY.name,
        str(NAV.organisation_id),
    )
    assert [row["type"] for row in types] == [
        "no.overgang.organisation.registered.v1",
        "no.overgang.organisation.updated.v1",
    ]


async def test_an_agreement_reads_back_as_the_domain_knows_it(store: asyncpg.Connection) -> None:
    assert await agreements.get(store, AGREEMENT_ID) == agreement()
    assert await agreements.latest_of_party(store, NAV.organisation_id) == [agreement()]


async def test_an_amendment_is_a_new_version_and_the_old_one_stays(
    store: asyncpg.Connection,
) -> None:
    amended = AgreementAmendedV1(
        **(
            agreement_registered().model_dump()
            | {"version": 2, "valid_until": dt.date(2031, 7, 31), "occurred_at": NOW}
        )
    )
    async with store.transaction():
        await agreements.save(store, amended, new_id=uuid.uuid4)
    assert (await agreements.get(store, AGREEMENT_ID)).valid_until == dt.date(2031, 7, 31)
    assert await agreements.get(store, AGREEMENT_ID, 1) == agreement()
    assert [a.version for a in await agreements.latest_of_party(store, NAV.organisation_id)] == [2]


async def test_an_amendment_of_an_older_version_is_stale(store: asyncpg.Connection) -> None:
    skipping = AgreementAmendedV1(**(agreement_registered().model_dump() | {"version": 3}))
    with pytest.raises(StaleVersion):
        async with store.transaction():
            await agreements.save(store, skipping, new_id=uuid.uuid4)
    assert (await agreements.get(store, AGREEMENT_ID)).version == 1
