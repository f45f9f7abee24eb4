"""`/v1/agreements`: the county cooperation agreements that allow referrals."""

import datetime as dt
import uuid
from typing import Self

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.codes import Purpose
from schemas.directory import (
    LinkageLevel,
    Route,
    ServiceLevels,
    TargetGroup,
    check_agreement_terms,
)
from schemas.ids import AgreementId, CountyNumber, OrganisationId
from services.plumbing.database import Connection
from services.plumbing.pagination import (
    CursorParam,
    LimitParam,
    decode_cursor,
    encode_cursor,
    uuid_part,
)
from services.referral.api.deps import Admin, Caller, IdempotencyKey, Keys, Pool
from services.referral.api.idempotency import once
from services.referral.domain.agreements import Agreement
from services.referral.usecases import agreements
from services.referral.usecases.agreements import AgreementTerms

router = APIRouter(prefix="/v1/agreements", tags=["agreements"])


class AgreementCreate(BaseModel):
    """A new agreement's terms, as an administrator of one of its parties records them."""

    model_config = ConfigDict(extra="forbid")

    county_number: CountyNumber = Field(description="the county whose agreement it is")
    valid_from: dt.date = Field(description="the first day it applies")
    valid_until: dt.date | None = Field(None, description="the last day it applies, if any")
    parties: list[OrganisationId] = Field(
        min_length=2, max_length=100, description="the organisations that signed it"
    )
    linkage_level: LinkageLevel = Field(description="how closely the parties work together")
    lead_organisation_id: OrganisationId | None = Field(
        None, description="the party that leads shared cases; needed for coordination"
    )
    routes: list[Route] = Field(min_length=1, max_length=100, description="who refers to whom")
    target_groups: list[TargetGroup] = Field(
        min_length=1, max_length=20, description="whom the agreement is for"
    )
    guardian_consent_below_age: int = Field(
        18, ge=0, le=18, description="below this age a guardian consents"
    )
    service_levels: ServiceLevels = Field(description="the deadlines the parties promise")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # The event contract's rules, refused here as 422 before anything is written.
        check_agreement_terms(
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            parties=self.parties,
            lead_organisation_id=self.lead_organisation_id,
            linkage_level=self.linkage_level,
        )
        return self

    def terms(self) -> AgreementTerms:
        return AgreementTerms(
            county_number=self.county_number,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            parties=list(self.parties),
            linkage_level=self.linkage_level,
            lead_organisation_id=self.lead_organisation_id,
            routes=list(self.routes),
            target_groups=list(self.target_groups),
            guardian_consent_below_age=self.guardian_consent_below_age,
            service_levels=self.service_levels,
        )


class AgreementRead(BaseModel):
    """The latest version of an agreement."""

    agreement_id: AgreementId
    version: int
    county_number: str
    valid_from: dt.date
    valid_until: dt.date | None
    parties: list[OrganisationId]
    linkage_level: LinkageLevel
    lead_organisation_id: OrganisationId | None
    routes: list[Route]
    target_groups: list[TargetGroup]
    guardian_consent_below_age: int
    service_levels: ServiceLevels

    @classmethod
    def of(cls, agreement: Agreement) -> "AgreementRead":
        return cls(
            agreement_id=agreement.agreement_id,
            version=agreement.version,
            county_number=agreement.county_number,
            valid_from=agreement.valid_from,
            valid_until=agreement.valid_until,
            parties=sorted(agreement.parties, key=str),
            linkage_level=agreement.linkage_level,
            lead_organisation_id=agreement.lead_organisation_id,
            routes=list(agreement.routes),
            target_groups=list(agreement.target_groups),
            guardian_consent_below_age=agreement.guardian_consent_below_age,
            service_levels=agreement.service_levels,
        )


class AgreementPage(BaseModel):
    """A page of the caller's organisation's agreements."""

    items: list[AgreementRead]
    next_cursor: str | None = Field(description="the cursor of the next page; none on the last")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AgreementRead,
    summary="Record an agreement (an administrator of a party)",
)
async def register(
    body: AgreementCreate,
    request: Request,
    principal: Admin,
    pool: Pool,
    keys: Keys,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def act(connection: Connection) -> tuple[int, BaseModel]:
        agreement = await agreements.register_agreement(connection, body.terms(), principal)
        return status.HTTP_201_CREATED, AgreementRead.of(agreement)

    return await once(request, pool, principal, idempotency_key, body, keys, act)


@router.get(
    "", summary="The agreements the caller's organisation signed", response_model=AgreementPage
)
async def list_(
    principal: Caller, pool: Pool, cursor: CursorParam = None, limit: LimitParam = 50
) -> AgreementPage:
    after = None if cursor is None else AgreementId(uuid_part(decode_cursor(cursor, 1)[0]))
    async with pool.acquire() as connection:
        page = await agreements.list_agreements(
            connection, principal.organisation_id, after=after, limit=limit
        )
    return AgreementPage(
        items=[AgreementRead.of(agreement) for agreement in page.agreements],
        next_cursor=None if page.next_after is None else encode_cursor(str(page.next_after)),
    )


class RecipientRead(BaseModel):
    organisation_id: OrganisationId
    purposes: list[Purpose] = Field(description="the purposes its routes allow")


class RecipientList(BaseModel):
    items: list[RecipientRead]


@router.get(
    "/recipients",
    summary="Whom the caller's organisation may refer to today, for which purposes",
    response_model=RecipientList,
)
async def recipients(principal: Caller, pool: Pool) -> RecipientList:
    """From the routes of the agreements in force that it signed. The person's age and
    situation (the agreements' target groups) are checked when a referral is filed."""
    async with pool.acquire() as connection:
        found = await agreements.recipients_of(connection, principal.organisation_id)
    return RecipientList(
        items=[
            RecipientRead(organisation_id=organisation, purposes=sorted(purposes))
            for organisation, purposes in sorted(found.items(), key=lambda item: str(item[0]))
        ]
    )


@router.get(
    "/{agreement_id}", summary="One agreement, latest version", response_model=AgreementRead
)
async def get(agreement_id: uuid.UUID, principal: Caller, pool: Pool) -> AgreementRead:
    async with pool.acquire() as connection:
        agreement = await agreements.get_agreement(connection, AgreementId(agreement_id))
    return AgreementRead.of(agreement)
