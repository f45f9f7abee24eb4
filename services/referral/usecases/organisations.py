"""Organisations: register, update, read and list the directory. Each change is its
directory event, saved with the entry and written to the outbox in one transaction."""

from dataclasses import dataclass, field

import asyncpg

from schemas.codes import OrganisationType, Role, Sector
from schemas.directory import OrganisationRegisteredV1, OrganisationUpdatedV1
from schemas.ids import OrganisationId
from services.plumbing.auth import Principal
from services.plumbing.database import Connection
from services.referral.store import organisations as store
from services.referral.store.errors import AlreadyExists
from services.referral.usecases import directory_views
from services.referral.usecases.acting import Clock, actor_of, new_id, now
from services.referral.usecases.directory_views import EntryPage, EntryPosition, OrganisationEntry
from services.referral.usecases.errors import NotPermitted, OrganisationNumberTaken


@dataclass(frozen=True)
class OrganisationDetails:
    """What an administrator says about an organisation (its whole entry)."""

    name: str
    type: OrganisationType
    sector: Sector
    county_number: str
    organisation_number: str | None = None
    municipality_numbers: list[str] = field(default_factory=list)


async def register_organisation(
    connection: Connection,
    details: OrganisationDetails,
    principal: Principal,
    *,
    clock: Clock = now,
) -> OrganisationEntry:
    """Add an organisation to the directory (OrganisationRegisteredV1)."""
    organisation_id = OrganisationId(new_id())
    event = OrganisationRegisteredV1(
        organisation_id=organisation_id,
        actor=actor_of(principal, Role.ADMIN),
        occurred_at=clock(),
        **vars(details),
    )
    async with connection.transaction():
        try:
            await store.save(connection, event, new_id=new_id)
        except AlreadyExists as error:
            # The id is new: what exists already is the organisation number.
            raise OrganisationNumberTaken() from error
        return await directory_views.entry(connection, organisation_id)


async def update_organisation(
    connection: Connection,
    organisation_id: OrganisationId,
    details: OrganisationDetails,
    principal: Principal,
) -> OrganisationEntry:
    """Replace an organisation's entry (OrganisationUpdatedV1); only its own administrators
    may."""
    if principal.organisation_id != organisation_id:
        raise NotPermitted("only an administrator of the organisation may change its entry")
    event = OrganisationUpdatedV1(
        organisation_id=organisation_id,
        actor=actor_of(principal, Role.ADMIN),
        occurred_at=now(),
        **vars(details),
    )
    async with connection.transaction():
        try:
            await store.save(connection, event, new_id=new_id)
        except asyncpg.UniqueViolationError as error:
            raise OrganisationNumberTaken() from error
        return await directory_views.entry(connection, organisation_id)


async def get_organisation(
    connection: Connection, organisation_id: OrganisationId
) -> OrganisationEntry:
    """One organisation's entry; NotFound when there is none."""
    return await directory_views.entry(connection, organisation_id)


async def list_organisations(
    connection: Connection, *, after: EntryPosition | None, limit: int
) -> EntryPage:
    """A page of the directory, by name."""
    return await directory_views.entries(connection, after=after, limit=limit)
