"""`/v1/subjects/{subject_id}/consents` and `/v1/consents/{consent_id}/withdraw`: record a
person's consent, list the ones the caller's organisation sees, and withdraw one (which
cancels the referrals that rest on it alone). Who sees which consent: see
services.referral.usecases.consents."""

import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.codes import Purpose, Sector
from schemas.ids import ConsentId, OrganisationId, ReferralId, SubjectId
from schemas.person import CollectionMethod, ConsentGiver
from services.plumbing.auth import Principal, require_role
from services.plumbing.database import Connection
from services.referral.api.deps import IdempotencyKey, Keys, Pool
from services.referral.api.idempotency import once
from services.referral.domain.consents import Consent
from services.referral.usecases import consents
from services.referral.usecases.acting import now
from services.referral.usecases.consents import RECORDERS, ConsentTerms

router = APIRouter(tags=["consents"])

Recorder = Annotated[Principal, Depends(require_role(*RECORDERS))]


class ConsentCreate(BaseModel):
    """A consent as the person (or their guardian) gave it."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    given_by: ConsentGiver = Field(description="the person, or a guardian (under the age)")
    purposes: list[Purpose] = Field(
        min_length=1, max_length=10, description="the purposes it covers"
    )
    recipient_organisation_ids: list[OrganisationId] = Field(
        default_factory=list, max_length=100, description="the organisations it covers"
    )
    recipient_sectors: list[Sector] = Field(
        default_factory=list, max_length=10, description="the sectors it covers, all of them"
    )
    expires_at: AwareDatetime = Field(description="when it stops covering anything (future)")
    collection_method: CollectionMethod = Field(description="how it was collected")


class ConsentWithdraw(BaseModel):
    """Who withdrew a consent."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    withdrawn_by: ConsentGiver = Field(description="the person, or their guardian")


class ConsentRead(BaseModel):
    """A consent: what it covers, until when, and whether it was withdrawn."""

    consent_id: ConsentId
    subject_id: SubjectId
    given_by: ConsentGiver
    purposes: list[Purpose]
    recipient_organisation_ids: list[OrganisationId]
    recipient_sectors: list[Sector]
    given_at: dt.datetime
    expires_at: dt.datetime
    collection_method: CollectionMethod
    withdrawn_at: dt.datetime | None
    withdrawn_by: ConsentGiver | None
    recorded_by_organisation_id: OrganisationId | None = Field(
        description="the organisation that recorded it; null for consents recorded before "
        "this was kept"
    )
    state: Literal["active", "expired", "withdrawn"] = Field(description="as of the answer")

    @classmethod
    def of(cls, consent: Consent, at: dt.datetime) -> "ConsentRead":
        state = (
            "withdrawn"
            if consent.withdrawn_at is not None
            else "expired"
            if at >= consent.expires_at
            else "active"
        )
        return cls(
            consent_id=consent.consent_id,
            subject_id=consent.subject_id,
            given_by=consent.given_by,
            purposes=sorted(consent.purposes),
            recipient_organisation_ids=sorted(consent.recipient_organisation_ids, key=str),
            recipient_sectors=sorted(consent.recipient_sectors),
            given_at=consent.given_at,
            expires_at=consent.expires_at,
            collection_method=consent.collection_method,
            withdrawn_at=consent.withdrawn_at,
            withdrawn_by=consent.withdrawn_by,
            recorded_by_organisation_id=consent.recorded_by,
            state=state,
        )


class ConsentList(BaseModel):
    items: list[ConsentRead]


class WithdrawalRead(BaseModel):
    """The withdrawn consent, and the referrals its withdrawal cancelled."""

    consent: ConsentRead
    cancelled_referral_ids: list[ReferralId]


@router.post(
    "/v1/subjects/{subject_id}/consents",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentRead,
    summary="Record a consent the person (or their guardian) gave",
)
async def give(
    subject_id: uuid.UUID,
    body: ConsentCreate,
    request: Request,
    principal: Recorder,
    pool: Pool,
    keys: Keys,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    terms = ConsentTerms(
        given_by=body.given_by,
        purposes=body.purposes,
        recipient_organisation_ids=body.recipient_organisation_ids,
        recipient_sectors=body.recipient_sectors,
        expires_at=body.expires_at,
        collection_method=body.collection_method,
    )

    async def act(connection: Connection) -> tuple[int, BaseModel]:
        consent = await consents.give_consent(connection, SubjectId(subject_id), terms, principal)
        return status.HTTP_201_CREATED, ConsentRead.of(consent, consent.given_at)

    return await once(request, pool, principal, idempotency_key, body, keys, act)


@router.get(
    "/v1/subjects/{subject_id}/consents",
    response_model=ConsentList,
    summary="The person's consents that the caller's organisation sees",
)
async def list_(subject_id: uuid.UUID, principal: Recorder, pool: Pool, keys: Keys) -> ConsentList:
    async with pool.acquire() as connection:
        found = await consents.list_consents(
            connection, SubjectId(subject_id), principal, keys=keys
        )
    at = now()
    return ConsentList(items=[ConsentRead.of(consent, at) for consent in found])


@router.post(
    "/v1/consents/{consent_id}/withdraw",
    response_model=WithdrawalRead,
    summary="Withdraw a consent; the referrals that rest on it alone are cancelled",
)
async def withdraw(
    consent_id: uuid.UUID, body: ConsentWithdraw, principal: Recorder, pool: Pool, keys: Keys
) -> WithdrawalRead:
    async with pool.acquire() as connection:
        withdrawal = await consents.withdraw_consent(
            connection, ConsentId(consent_id), body.withdrawn_by, principal, keys=keys
        )
    return WithdrawalRead(
        consent=ConsentRead.of(withdrawal.consent, now()),
        cancelled_referral_ids=withdrawal.cancelled,
    )
