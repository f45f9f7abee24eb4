"""What the API shows of the organisation directory: the whole entry, read with explicit SQL
and keyset-paginated by (name, organisation_id). Here rather than in store/ for now (the
store package belongs to another change); it moves there with the next store change."""

import datetime as dt
from dataclasses import dataclass

import asyncpg

from schemas.codes import OrganisationType, Sector
from schemas.ids import OrganisationId
from services.plumbing.database import Connection
from services.referral.store.errors import NotFound

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class OrganisationEntry:
    """An organisation's directory entry as it is now."""

    organisation_id: OrganisationId
    name: str
    type: OrganisationType
    sector: Sector
    organisation_number: str | None
    county_number: str
    municipality_numbers: list[str]
    updated_at: dt.datetime


@dataclass(frozen=True)
class EntryPosition:
    """Where a page of the directory ends: the name and id of its last entry."""

    name: str
    organisation_id: OrganisationId


@dataclass(frozen=True)
class EntryPage:
    entries: list[OrganisationEntry]
    next_after: EntryPosition | None


_COLUMNS = """organisation_id, name, type, sector, organisation_number, county_number,
    municipality_numbers, updated_at"""


async def entry(connection: Connection, organisation_id: OrganisationId) -> OrganisationEntry:
    """The organisation's entry; NotFound when there is none."""
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM organisations WHERE organisation_id = $1",  # noqa: S608
        organisation_id,
    )
    if row is None:
        raise NotFound(f"no organisation {organisation_id}")
    return _entry(row)


async def entries(connection: Connection, *, after: EntryPosition | None, limit: int) -> EntryPage:
    """A page of the directory, by name, after `after`."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"a page has 1 to {MAX_PAGE_SIZE} organisations")
    rows = await connection.fetch(
        f"""SELECT {_COLUMNS} FROM organisations
            WHERE $1::text IS NULL OR (name, organisation_id) > ($1, $2::uuid)
            ORDER BY name, organisation_id
            LIMIT $3""",  # noqa: S608
        None if after is None else after.name,
        None if after is None else after.organisation_id,
        limit + 1,
    )
    found = [_entry(row) for row in rows[:limit]]
    last = found[-1] if len(rows) > limit else None
    return EntryPage(
        found, None if last is None else EntryPosition(last.name, last.organisation_id)
    )


def _entry(row: asyncpg.Record) -> OrganisationEntry:
    return OrganisationEntry(
        organisation_id=OrganisationId(row["organisation_id"]),
        name=row["name"],
        type=OrganisationType(row["type"]),
        sector=Sector(row["sector"]),
        organisation_number=row["organisation_number"],
        county_number=row["county_number"],
        municipality_numbers=list(row["municipality_numbers"]),
        updated_at=row["updated_at"],
    )
