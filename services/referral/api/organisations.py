"""`/v1/organisations`: the directory of organisations that refer and receive."""

import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from schemas.codes import OrganisationType, Sector
from schemas.ids import CountyNumber, MunicipalityNumber, OrganisationId, OrganisationNumber
from services.plumbing.database import Connection
from services.plumbing.pagination import (
    CursorParam,
    LimitParam,
    decode_cursor,
    encode_cursor,
    uuid_part,
)
from services.plumbing.problems import PROBLEMS
from services.referral.api.deps import Admin, Caller, IdempotencyKey, Keys, Pool
from services.referral.api.idempotency import once
from services.referral.usecases import organisations
from services.referral.usecases.directory_views import EntryPosition, OrganisationEntry
from services.referral.usecases.organisations import OrganisationDetails

router = APIRouter(prefix="/v1/organisations", tags=["organisations"])


class OrganisationCreate(BaseModel):
    """An organisation's whole directory entry, as an administrator gives it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="the official name")
    type: OrganisationType = Field(description="what kind of organisation it is")
    sector: Sector = Field(description="the public sector it belongs to")
    organisation_number: OrganisationNumber | None = Field(
        None, description="its number in the Central Coordinating Register, if it has one"
    )
    county_number: CountyNumber = Field(description="the county it belongs to")
    municipality_numbers: list[MunicipalityNumber] = Field(
        default_factory=list, max_length=100, description="the municipalities it serves"
    )

    def details(self) -> OrganisationDetails:
        return OrganisationDetails(**self.model_dump())


class OrganisationUpdate(OrganisationCreate):
    """The organisation's new entry; it replaces the whole old one."""


class OrganisationRead(BaseModel):
    """An organisation's directory entry."""

    organisation_id: OrganisationId
    name: str
    type: OrganisationType
    sector: Sector
    organisation_number: str | None
    county_number: str
    municipality_numbers: list[str]
    updated_at: dt.datetime

    @classmethod
    def of(cls, entry: OrganisationEntry) -> "OrganisationRead":
        return cls.model_validate(entry, from_attributes=True)


class OrganisationPage(BaseModel):
    """A page of the directory, by name."""

    items: list[OrganisationRead]
    next_cursor: str | None = Field(description="the cursor of the next page; none on the last")


_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganisationRead,
    summary="Register an organisation",
    responses={409: {"description": f"{PROBLEMS}organisation-number-taken", **_PROBLEM}},
)
async def register(
    body: OrganisationCreate,
    request: Request,
    principal: Admin,
    pool: Pool,
    keys: Keys,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def act(connection: Connection) -> tuple[int, BaseModel]:
        entry = await organisations.register_organisation(connection, body.details(), principal)
        return status.HTTP_201_CREATED, OrganisationRead.of(entry)

    return await once(request, pool, principal, idempotency_key, body, keys, act)


@router.get("", summary="List the directory", response_model=OrganisationPage)
async def list_(
    principal: Caller, pool: Pool, cursor: CursorParam = None, limit: LimitParam = 50
) -> OrganisationPage:
    after = None
    if cursor is not None:
        name, organisation_id = decode_cursor(cursor, 2)
        after = EntryPosition(name, OrganisationId(uuid_part(organisation_id)))
    async with pool.acquire() as connection:
        page = await organisations.list_organisations(connection, after=after, limit=limit)
    next_cursor = (
        None
        if page.next_after is None
        else encode_cursor(page.next_after.name, str(page.next_after.organisation_id))
    )
    return OrganisationPage(
        items=[OrganisationRead.of(entry) for entry in page.entries], next_cursor=next_cursor
    )


@router.get("/{organisation_id}", summary="One organisation", response_model=OrganisationRead)
async def get(organisation_id: uuid.UUID, principal: Caller, pool: Pool) -> OrganisationRead:
    async with pool.acquire() as connection:
        entry = await organisations.get_organisation(connection, OrganisationId(organisation_id))
    return OrganisationRead.of(entry)


@router.put(
    "/{organisation_id}",
    summary="Replace an organisation's entry (its own administrators)",
    response_model=OrganisationRead,
)
async def update(
    organisation_id: uuid.UUID, body: OrganisationUpdate, principal: Admin, pool: Pool
) -> OrganisationRead:
    async with pool.acquire() as connection:
        entry = await organisations.update_organisation(
            connection, OrganisationId(organisation_id), body.details(), principal
        )
    return OrganisationRead.of(entry)
