"""The organisation directory: entries as the directory events carry them."""

from collections.abc import Iterable

from schemas.codes import OrganisationType, Sector
from schemas.directory import OrganisationRegisteredV1, OrganisationUpdatedV1
from schemas.ids import OrganisationId
from services.plumbing.database import Connection
from services.referral.domain.organisations import Organisation
from services.referral.store.errors import AlreadyExists, NotFound
from services.referral.store.events import NewId, enqueue_all

OrganisationChange = OrganisationRegisteredV1 | OrganisationUpdatedV1


async def save(connection: Connection, change: OrganisationChange, *, new_id: NewId) -> None:
    """Register or update an organisation's entry from its directory event, and enqueue the
    event, in the caller's transaction."""
    row = (
        change.organisation_id,
        change.name,
        change.type.value,
        change.sector.value,
        change.organisation_number,
        change.county_number,
        list(change.municipality_numbers),
        change.occurred_at,
    )
    if isinstance(change, OrganisationRegisteredV1):
        inserted = await connection.fetchval(
            """INSERT INTO organisations (organisation_id, name, type, sector,
                   organisation_number, county_number, municipality_numbers, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT DO NOTHING RETURNING true""",
            *row,
        )
        if not inserted:
            raise AlreadyExists(f"organisation {change.organisation_id} is registered")
    else:
        updated = await connection.fetchval(
            """UPDATE organisations SET name = $2, type = $3, sector = $4,
                   organisation_number = $5, county_number = $6, municipality_numbers = $7,
                   updated_at = $8
               WHERE organisation_id = $1 RETURNING true""",
            *row,
        )
        if not updated:
            raise NotFound(f"no organisation {change.organisation_id}")
    await enqueue_all(connection, [change], new_id=new_id, now=change.occurred_at)


async def get_many(
    connection: Connection, organisation_ids: Iterable[OrganisationId]
) -> dict[OrganisationId, Organisation]:
    """Those of the organisations that are registered, by id, in one read."""
    rows = await connection.fetch(
        "SELECT organisation_id, type, sector FROM organisations"
        " WHERE organisation_id = ANY($1::uuid[])",
        list(organisation_ids),
    )
    return {
        OrganisationId(row["organisation_id"]): Organisation(
            OrganisationId(row["organisation_id"]),
            OrganisationType(row["type"]),
            Sector(row["sector"]),
        )
        for row in rows
    }


async def get(connection: Connection, organisation_id: OrganisationId) -> Organisation:
    """The organisation as the rules see it; NotFound when there is none."""
    row = await connection.fetchrow(
        "SELECT organisation_id, type, sector FROM organisations WHERE organisation_id = $1",
        organisation_id,
    )
    if row is None:
        raise NotFound(f"no organisation {organisation_id}")
    return Organisation(
        OrganisationId(row["organisation_id"]),
        OrganisationType(row["type"]),
        Sector(row["sector"]),
    )
