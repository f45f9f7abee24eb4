"""`/v1/audit/consents/{subject_id}`: a person's consent ledger, for the caller's county: each
consent, when it was given, withdrawn or expired, and which handoffs it covered."""

import datetime as dt
import uuid

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from schemas.codes import Purpose, Sector
from schemas.ids import SubjectId
from schemas.person import CollectionMethod, ConsentGiver
from schemas.referrals import StatutoryBasis
from services.audit.api.deps import Auditor, Pool, only_query
from services.audit.domain.consents import Consent, ConsentStatus, Handoff
from services.audit.usecases.consents import read_ledger

router = APIRouter(prefix="/v1/audit", tags=["consent ledger"])


class HandoffRead(BaseModel):
    """A referral step that shared the person's data with another organisation."""

    sequence: int = Field(description="the event's row in the audit log")
    event_id: uuid.UUID
    step: str = Field(description="submitted or redirected")
    referral_id: uuid.UUID
    from_organisation_id: uuid.UUID
    to_organisation_id: uuid.UUID = Field(description="who received the person's data")
    agreement_id: uuid.UUID
    agreement_version: int
    purpose: Purpose
    consent_id: uuid.UUID | None = Field(description="the consent it was made under")
    statutory_basis: StatutoryBasis | None = Field(description="or the provision that allowed it")
    occurred_at: dt.datetime


class CoveredHandoffRead(HandoffRead):
    consent_in_force: bool | None = Field(
        description="the consent was given before, and not withdrawn or expired by then "
        "(null: the log has no event of its giving)"
    )
    purpose_covered: bool | None = Field(
        description="the consent names the handoff's purpose (null: giving unknown)"
    )


class ConsentRead(BaseModel):
    consent_id: uuid.UUID
    status: ConsentStatus = Field(description="where it stands now")
    given_at: dt.datetime | None = Field(description="null when the log has no giving event")
    given_by: ConsentGiver | None
    collection_method: CollectionMethod | None
    recorded_by_organisation_id: uuid.UUID | None = Field(
        description="the organisation of whoever recorded it"
    )
    purposes: list[Purpose]
    recipient_organisation_ids: list[uuid.UUID]
    recipient_sectors: list[Sector]
    expires_at: dt.datetime | None
    withdrawn_at: dt.datetime | None
    withdrawn_by: ConsentGiver | None
    expired_at: dt.datetime | None = Field(description="when its expiry was recorded")
    handoffs: list[CoveredHandoffRead] = Field(
        description="the handoffs made under it that involve your county, in order"
    )
    cancelled_referral_ids: list[uuid.UUID] = Field(
        description="referrals cancelled because it was withdrawn"
    )


class LedgerRead(BaseModel):
    subject_id: uuid.UUID
    consents: list[ConsentRead] = Field(description="in the order they were first heard of")
    statutory_handoffs: list[HandoffRead] = Field(
        description="handoffs made on a statutory basis, without consent"
    )


def _handoff(handoff: Handoff) -> dict[str, object]:
    return {
        "sequence": handoff.sequence,
        "event_id": handoff.event_id,
        "step": handoff.step,
        "referral_id": handoff.referral_id,
        "from_organisation_id": handoff.from_organisation_id,
        "to_organisation_id": handoff.to_organisation_id,
        "agreement_id": handoff.agreement_id,
        "agreement_version": handoff.agreement_version,
        "purpose": handoff.purpose,
        "consent_id": handoff.consent_id,
        "statutory_basis": handoff.statutory_basis,
        "occurred_at": handoff.occurred_at,
    }


def _consent(consent: Consent, now: dt.datetime) -> ConsentRead:
    given, withdrawn, expired = consent.given, consent.withdrawn, consent.expired
    covered = [consent.covered(handoff) for handoff in consent.handoffs]
    return ConsentRead(
        consent_id=consent.consent_id,
        status=consent.status(now),
        given_at=None if given is None else given.occurred_at,
        given_by=None if given is None else given.given_by,
        collection_method=None if given is None else given.collection_method,
        recorded_by_organisation_id=None if given is None else given.actor.organisation_id,
        purposes=[] if given is None else list(given.purposes),
        recipient_organisation_ids=[] if given is None else list(given.recipient_organisation_ids),
        recipient_sectors=[] if given is None else list(given.recipient_sectors),
        expires_at=None if given is None else given.expires_at,
        withdrawn_at=None if withdrawn is None else withdrawn.occurred_at,
        withdrawn_by=None if withdrawn is None else withdrawn.withdrawn_by,
        expired_at=None if expired is None else expired.occurred_at,
        handoffs=[
            CoveredHandoffRead.model_validate(
                _handoff(item.handoff)
                | {"consent_in_force": item.in_force, "purpose_covered": item.purpose_covered}
            )
            for item in covered
        ],
        cancelled_referral_ids=consent.cancelled_referral_ids,
    )


@router.get(
    "/consents/{subject_id}",
    response_model=LedgerRead,
    dependencies=[Depends(only_query())],
    summary="a person's consent ledger",
)
async def consent_ledger(subject_id: uuid.UUID, pool: Pool, caller: Auditor) -> LedgerRead:
    """Reading it is recorded as an access event (purpose audit, resource consents)."""
    now = dt.datetime.now(dt.UTC)
    ledger = await read_ledger(
        pool, caller, subject_id=SubjectId(subject_id), now=now, new_id=uuid.uuid4
    )
    return LedgerRead(
        subject_id=subject_id,
        consents=[_consent(consent, now) for consent in ledger.consents],
        statutory_handoffs=[
            HandoffRead.model_validate(_handoff(handoff)) for handoff in ledger.statutory_handoffs
        ],
    )
