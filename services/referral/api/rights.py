"""`/v1/subjects/{subject_id}/export`, `/restrict` and `/erase`: the person's rights. Who may,
and what restriction and erasure do: see services.referral.usecases.rights."""

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from schemas.actors import Actor
from schemas.ids import SubjectId
from schemas.person import RestrictionGround, RestrictionLiftGround
from services.plumbing.auth import Principal, require_role
from services.referral.api.consents import ConsentRead
from services.referral.api.deps import Admin, Keys, Pool
from services.referral.api.referrals import ContactRead, FollowUpRead, ReferralSummary
from services.referral.domain.referral import Referral
from services.referral.usecases import rights
from services.referral.usecases.rights import EXPORTERS

router = APIRouter(prefix="/v1/subjects", tags=["person's rights"])

Exporter = Annotated[Principal, Depends(require_role(*EXPORTERS))]


class PersonalDataRead(BaseModel):
    """What is held about the person themselves, decrypted."""

    identity_number: str
    birth_date: dt.date
    name: str | None
    contact: str | None
    registered_at: dt.datetime
    restricted_at: dt.datetime | None


class HistoryStepRead(BaseModel):
    version: int
    event_type: str = Field(description="the CloudEvents type of the step's event")
    occurred_at: dt.datetime
    actor: Actor
    note: str | None


class ExportedReferralRead(ReferralSummary):
    """A referral of the person with everything recorded on it."""

    contacts: list[ContactRead]
    follow_ups: list[FollowUpRead]
    history: list[HistoryStepRead]

    @classmethod
    def of_referral(cls, referral: Referral) -> "ExportedReferralRead":
        return cls.model_validate(
            ReferralSummary.fields_of(referral)
            | {
                "contacts": [vars(contact) for contact in referral.contacts],
                "follow_ups": [vars(follow_up) for follow_up in referral.follow_ups],
                "history": [
                    HistoryStepRead(
                        version=entry.version,
                        event_type=entry.event.ce_type,
                        occurred_at=entry.event.occurred_at,
                        actor=entry.event.actor,
                        note=entry.note,
                    )
                    for entry in referral.history
                ],
            }
        )


class SubjectExport(BaseModel):
    """Everything the referral service holds about a person."""

    subject_id: SubjectId
    exported_at: dt.datetime
    personal_data: PersonalDataRead
    consents: list[ConsentRead]
    referrals: list[ExportedReferralRead]


class RestrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    ground: RestrictionGround = Field(description="why processing is restricted")


class RestrictionRead(BaseModel):
    subject_id: SubjectId
    restricted_at: dt.datetime = Field(description="since when (the first restriction)")
    ground: RestrictionGround


class ErasureRead(BaseModel):
    subject_id: SubjectId
    erased_at: dt.datetime


@router.get(
    "/{subject_id}/export",
    response_model=SubjectExport,
    summary="Everything held about the person (their right of access)",
)
async def export(
    subject_id: uuid.UUID, principal: Exporter, pool: Pool, keys: Keys
) -> SubjectExport:
    async with pool.acquire() as connection:
        found = await rights.export_subject(connection, SubjectId(subject_id), principal, keys=keys)
    data = found.personal_data
    return SubjectExport(
        subject_id=data.subject_id,
        exported_at=found.exported_at,
        personal_data=PersonalDataRead(
            identity_number=data.identity_number,
            birth_date=data.birth_date,
            name=data.name,
            contact=data.contact,
            registered_at=data.registered_at,
            restricted_at=data.restricted_at,
        ),
        consents=[ConsentRead.of(consent, found.exported_at) for consent in found.consents],
        referrals=[ExportedReferralRead.of_referral(referral) for referral in found.referrals],
    )


@router.post(
    "/{subject_id}/restrict",
    response_model=RestrictionRead,
    summary="Restrict the processing of the person's data",
)
async def restrict(
    subject_id: uuid.UUID, body: RestrictBody, principal: Admin, pool: Pool, keys: Keys
) -> RestrictionRead:
    async with pool.acquire() as connection:
        restriction = await rights.restrict_subject(
            connection, SubjectId(subject_id), body.ground, principal, keys=keys
        )
    return RestrictionRead(
        subject_id=restriction.subject_id,
        restricted_at=restriction.restricted_at,
        ground=restriction.ground,
    )


class LiftRestrictionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    ground: RestrictionLiftGround = Field(
        description="why the restriction ends; tell the person before (GDPR art. 18(3))"
    )


class LiftingRead(BaseModel):
    subject_id: SubjectId
    restricted_since: dt.datetime = Field(description="since when it had been restricted")
    lifted_at: dt.datetime
    ground: RestrictionLiftGround


@router.post(
    "/{subject_id}/lift-restriction",
    response_model=LiftingRead,
    summary="End the restriction of the person's data, so that it may be processed again",
)
async def lift_restriction(
    subject_id: uuid.UUID, body: LiftRestrictionBody, principal: Admin, pool: Pool, keys: Keys
) -> LiftingRead:
    async with pool.acquire() as connection:
        lifting = await rights.lift_restriction(
            connection, SubjectId(subject_id), body.ground, principal, keys=keys
        )
    return LiftingRead(
        subject_id=lifting.subject_id,
        restricted_since=lifting.restricted_since,
        lifted_at=lifting.lifted_at,
        ground=lifting.ground,
    )


@router.post(
    "/{subject_id}/erase",
    response_model=ErasureRead,
    summary="Erase the person's data by destroying their key, once retention allows",
)
async def erase(subject_id: uuid.UUID, principal: Admin, pool: Pool, keys: Keys) -> ErasureRead:
    async with pool.acquire() as connection:
        erased_at = await rights.erase_subject(
            connection, SubjectId(subject_id), principal, keys=keys
        )
    return ErasureRead(subject_id=SubjectId(subject_id), erased_at=erased_at)
