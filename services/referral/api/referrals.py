"""`/v1/referrals`: file a referral, read it and its history, act on it, list the worklists.

Every read of one referral carries its version as a strong `ETag`; every action needs it back
in `If-Match` (missing: 428; stale: 412; an action its status does not allow: 409 with the
current status)."""

import datetime as dt
import re
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from schemas.actors import Actor
from schemas.codes import Purpose, Role
from schemas.directory import Situation
from schemas.ids import ActorId, AgreementId, ConsentId, OrganisationId, ReferralId, SubjectId
from schemas.referrals import (
    CancellationReason,
    ContactMethod,
    ContactResult,
    Outcome,
    RedirectionReason,
    RejectionReason,
    StatutoryBasis,
    WithdrawalReason,
)
from services.plumbing.auth import Principal, require_role
from services.plumbing.database import Connection
from services.plumbing.pagination import CursorParam, LimitParam
from services.referral.api.deps import IdempotencyKey, Keys, Pool
from services.referral.api.idempotency import once
from services.referral.api.problems import PreconditionRequired
from services.referral.domain.records import MAX_NOTE_LENGTH
from services.referral.domain.referral import Referral
from services.referral.domain.status import ReferralStatus
from services.referral.store.worklists import Cursor
from services.referral.usecases import referrals
from services.referral.usecases.referrals import (
    READERS,
    Accept,
    Assign,
    Cancel,
    Command,
    Complete,
    Filing,
    Receive,
    RecordContact,
    RecordFollowUp,
    Redirect,
    Reject,
    Start,
    Withdraw,
)

router = APIRouter(prefix="/v1/referrals", tags=["referrals"])

Reader = Annotated[Principal, Depends(require_role(*sorted(READERS)))]
Filer = Annotated[Principal, Depends(require_role(Role.FILER, Role.COORDINATOR))]
Handler = Annotated[Principal, Depends(require_role(Role.COUNSELLOR, Role.COORDINATOR))]
Coordinator = Annotated[Principal, Depends(require_role(Role.COORDINATOR))]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]

Note = Annotated[
    str | None,
    Field(
        None,
        max_length=MAX_NOTE_LENGTH,
        repr=False,
        description="free text about the step; kept encrypted in the referral store, never in "
        "an event",
    ),
]


def etag(version: int) -> str:
    """The strong entity tag of a referral's version."""
    return f'"{version}"'


_ETAG = re.compile(r'^\s*"(\d{1,9})"\s*$')


async def _expected_version(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=100,
            description='the ETag of the version acted on, e.g. "3" (required)',
        ),
    ] = None,
) -> int:
    if if_match is None or if_match.strip() == "*":
        raise PreconditionRequired(
            'If-Match with the referral\'s ETag is required, e.g. If-Match: "3"'
        )
    matched = _ETAG.match(if_match)
    if matched is None:
        # Not a tag we made (a weak or listed one never matches a strong comparison).
        raise PreconditionRequired(
            'If-Match must be the one strong ETag of the referral, e.g. If-Match: "3"'
        )
    return int(matched.group(1))


ExpectedVersion = Annotated[int, Depends(_expected_version)]


class ContactRead(BaseModel):
    contact_id: uuid.UUID
    method: ContactMethod
    result: ContactResult
    recorded_at: dt.datetime
    recorded_by: ActorId


class FollowUpRead(BaseModel):
    follow_up_id: uuid.UUID
    method: ContactMethod
    recorded_at: dt.datetime
    recorded_by: ActorId


class ReferralSummary(BaseModel):
    """A referral as a worklist shows it."""

    referral_id: ReferralId
    subject_id: SubjectId
    from_organisation_id: OrganisationId
    to_organisation_id: OrganisationId = Field(description="the organisation it is with now")
    purpose: Purpose
    situation: Situation
    agreement_id: AgreementId
    agreement_version: int
    consent_id: ConsentId | None
    statutory_basis: StatutoryBasis | None
    status: ReferralStatus
    version: int = Field(description="the version; its ETag is this number in quotes")
    submitted_at: dt.datetime
    addressed_at: dt.datetime = Field(description="when it reached its current receiver")
    received_at: dt.datetime | None
    accepted_at: dt.datetime | None
    started_at: dt.datetime | None
    closed_at: dt.datetime | None
    assigned_counsellor: ActorId | None
    assigned_role: Role | None
    rejection_reason: RejectionReason | None
    withdrawal_reason: WithdrawalReason | None
    cancellation_reason: CancellationReason | None
    outcome: Outcome | None
    overdue_since: dt.datetime | None = Field(
        description="since when a deadline of its agreement is missed, if one is"
    )

    @classmethod
    def fields_of(cls, referral: Referral) -> dict[str, object]:
        return {name: getattr(referral, name) for name in ReferralSummary.model_fields}

    @classmethod
    def of(cls, referral: Referral) -> "ReferralSummary":
        return cls.model_validate(cls.fields_of(referral))


class ReferralRead(ReferralSummary):
    """A referral with the contacts and follow-ups recorded on it."""

    contacts: list[ContactRead]
    follow_ups: list[FollowUpRead]

    @classmethod
    def of(cls, referral: Referral) -> "ReferralRead":
        return cls.model_validate(
            cls.fields_of(referral)
            | {
                "contacts": [vars(contact) for contact in referral.contacts],
                "follow_ups": [vars(follow_up) for follow_up in referral.follow_ups],
            }
        )


class HistoryEntryRead(BaseModel):
    version: int
    event_type: str = Field(description="the CloudEvents type of the step's event")
    occurred_at: dt.datetime
    actor: Actor
    note: str | None


class HistoryRead(BaseModel):
    referral_id: ReferralId
    items: list[HistoryEntryRead]


class ReferralPage(BaseModel):
    items: list[ReferralSummary]
    next_cursor: str | None = Field(description="the cursor of the next page; none on the last")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class ReferralCreate(_Body):
    """A referral of a person from the caller's organisation to another."""

    subject_id: SubjectId
    to_organisation_id: OrganisationId
    purpose: Purpose
    situation: Situation
    consent_id: ConsentId | None = Field(None, description="the consent it rests on, if any")
    statutory_basis: StatutoryBasis | None = Field(
        None, description="the provision it rests on, if any; a consent or this, or both"
    )
    note: Note = None


class RejectBody(_Body):
    reason: RejectionReason
    note: Note = None


class WithdrawBody(_Body):
    reason: WithdrawalReason
    note: Note = None


class CompleteBody(_Body):
    outcome: Outcome
    note: Note = None


class CancelBody(_Body):
    reason: CancellationReason
    note: Note = None


class ContactBody(_Body):
    method: ContactMethod
    result: ContactResult
    note: Note = None


class FollowUpBody(_Body):
    method: ContactMethod
    note: Note = None


class AssignBody(_Body):
    assignee_id: ActorId = Field(description="the user's id at the identity provider")
    assignee_role: Literal[Role.COUNSELLOR, Role.COORDINATOR]


class RedirectBody(_Body):
    to_organisation_id: OrganisationId
    reason: RedirectionReason
    consent_id: ConsentId | None = None
    statutory_basis: StatutoryBasis | None = None
    note: Note = None


class ReassignBody(_Body):
    from_counsellor_id: ActorId = Field(description="the user who leaves")
    assignee_id: ActorId = Field(description="the user who takes their referrals over")
    assignee_role: Literal[Role.COUNSELLOR, Role.COORDINATOR]


class ReassignRead(BaseModel):
    reassigned: list[ReferralId]


def _with_etag(referral: Referral, response: Response) -> ReferralRead:
    response.headers["ETag"] = etag(referral.version)
    return ReferralRead.of(referral)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReferralRead,
    summary="File a referral from the caller's organisation",
)
async def file(
    body: ReferralCreate,
    request: Request,
    principal: Filer,
    pool: Pool,
    keys: Keys,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    filing = Filing(
        subject_id=body.subject_id,
        to_organisation_id=body.to_organisation_id,
        purpose=body.purpose,
        situation=body.situation,
        consent_id=body.consent_id,
        statutory_basis=body.statutory_basis,
        note=body.note,
    )

    async def act(connection: Connection) -> tuple[int, BaseModel]:
        referral = await referrals.file_referral(connection, filing, principal, keys=keys)
        return status.HTTP_201_CREATED, ReferralRead.of(referral)

    response = await once(request, pool, principal, idempotency_key, body, keys, act)
    if response.status_code == status.HTTP_201_CREATED:  # filed now, or a retry's replay
        read = ReferralRead.model_validate_json(bytes(response.body))
        response.headers["ETag"] = etag(read.version)
        response.headers["Location"] = f"/v1/referrals/{read.referral_id}"
    return response


@router.get("", response_model=ReferralPage, summary="The caller's organisation's worklist")
async def worklist(
    principal: Reader,
    pool: Pool,
    box: Annotated[
        Literal["received", "sent"],
        Query(description="referrals the organisation received (is handling) or sent"),
    ] = "received",
    status_: Annotated[
        list[ReferralStatus] | None,
        Query(alias="status", max_length=9, description="only these statuses"),
    ] = None,
    counsellor: Annotated[
        ActorId | None, Query(description="only those assigned to this user (received only)")
    ] = None,
    overdue: Annotated[bool, Query(description="only those with a missed deadline")] = False,
    cursor: CursorParam = None,
    limit: LimitParam = 50,
) -> ReferralPage:
    async with pool.acquire() as connection:
        page = await referrals.worklist(
            connection,
            principal,
            box=box,
            statuses=None if not status_ else frozenset(status_),
            counsellor=counsellor,
            overdue_only=overdue,
            after=None if cursor is None else Cursor.decode(cursor),
            limit=limit,
        )
    return ReferralPage(
        items=[ReferralSummary.of(referral) for referral in page.referrals],
        next_cursor=None if page.next_cursor is None else page.next_cursor.encode(),
    )


@router.post(
    "/reassignments",
    response_model=ReassignRead,
    summary="Give every open referral of a user who leaves to another user",
)
async def reassign(
    body: ReassignBody, principal: Coordinator, pool: Pool, keys: Keys
) -> ReassignRead:
    async with pool.acquire() as connection:
        changed = await referrals.reassign(
            connection,
            principal,
            body.from_counsellor_id,
            body.assignee_id,
            body.assignee_role,
            keys=keys,
        )
    return ReassignRead(reassigned=[referral.referral_id for referral in changed])


@router.get("/{referral_id}", response_model=ReferralRead, summary="One referral")
async def read(
    referral_id: uuid.UUID, principal: Reader, pool: Pool, keys: Keys, response: Response
) -> ReferralRead:
    async with pool.acquire() as connection:
        referral = await referrals.read_referral(
            connection, ReferralId(referral_id), principal, keys=keys
        )
    return _with_etag(referral, response)


@router.get(
    "/{referral_id}/history",
    response_model=HistoryRead,
    summary="Every step of a referral, with its notes",
)
async def history(
    referral_id: uuid.UUID, principal: Reader, pool: Pool, keys: Keys, response: Response
) -> HistoryRead:
    async with pool.acquire() as connection:
        referral = await referrals.read_history(
            connection, ReferralId(referral_id), principal, keys=keys
        )
    response.headers["ETag"] = etag(referral.version)
    return HistoryRead(
        referral_id=referral.referral_id,
        items=[
            HistoryEntryRead(
                version=entry.version,
                event_type=entry.event.ce_type,
                occurred_at=entry.event.occurred_at,
                actor=entry.event.actor,
                note=entry.note,
            )
            for entry in referral.history
        ],
    )


async def _act(
    referral_id: uuid.UUID,
    principal: Principal,
    command: Command,
    version: int,
    pool: Pool,
    keys: Keys,
    response: Response,
) -> ReferralRead:
    async with pool.acquire() as connection:
        referral = await referrals.act(
            connection,
            ReferralId(referral_id),
            principal,
            command,
            expected_version=version,
            keys=keys,
        )
    return _with_etag(referral, response)


@router.post("/{referral_id}/receive", response_model=ReferralRead, summary="Acknowledge it")
async def receive(
    referral_id: uuid.UUID,
    principal: Handler,
    version: ExpectedVersion,
    pool: Pool,
    keys: Keys,
    response: Response,
) -> ReferralRead:
    return await _act(referral_id, principal, Receive(), version, pool, keys, response)


@router.post("/{referral_id}/accept", response_model=ReferralRead, summary="Take it on")
async def accept(
    referral_id: uuid.UUID,
    principal: Handler,
    version: ExpectedVersion,
    pool: Pool,
    keys: Keys,
    response: Response,
) -> ReferralRead:
    return await _act(referral_id, principal, Accept(), version, pool, keys, response)


@router.post("/{referral_id}/start", response_model=ReferralRead, summary="Begin the work")
async def start(
    referral_id: uuid.UUID,
    principal: Handler,
    version: ExpectedVersion,
    pool: Pool,
    keys: Keys,
    response: Response,
) -> ReferralRead:
    return await _act(referral_id, principal, Start(), version, pool, keys, response)


@router.post(
    "/{referral_id}/reject", response_model=ReferralRead, summary="Decline it with a reason"
)
async def reject(
    referral_id: uuid.UUID,
    body: RejectBody,
    principal: Handler,
    version: ExpectedVersion,
    pool: Pool,
    keys: Keys,
    response: Response,
) -> ReferralRead:
    command = Reject(body.reason, body.note)
    return await _act(referral_id, principal, command, version, pool, keys, response)


@router.post(
    "/{referral_id}/redirect",
    response_model=ReferralRead,
    summary="Send it on to another organisation an agreement allows",
)
async def redirect(
    referral_id: uuid.UUID,
    body: RedirectBody,
    principal: Handler,
    version: ExpectedVersion,
    pool: Pool,
    keys: Keys,
    response: Response,
) -> ReferralRead:
    command = Redirect(
        to_organisation_id=body.to_organisation_id,
        reason=body.reason,
        consent_id=body.consent_id,
        statutory_basis=body.statutory_basis,
        note=body.note,
    )
    return await _act(referral_id, principal, command, version, pool, keys, response)


@router.post(
    "/{referral_id}/withdraw",
    response_model=ReferralRead,
    summary="Take it back before it is accepted (the sender)",
)
async def withdraw(
    referral_id: uuid.UUID,
    body: WithdrawBody,
    principal: Filer,
    version: ExpectedVersion,
    pool: Pool,
    keys: Keys,
    response: Response,
) -> ReferralRead:
    command = Withdraw(body.reason, body.note)
    return await _act(referral_id, principal, command, version, pool, keys, response)


@router.post(
    "/{referral_id}/contacts",
    status_code=status.HTTP_201_CREATED,
    response_model=ReferralRead,
    summary="Record a contact with the person, or an attempt",
)
async def record_contact(
    referral_id: uuid.UUID,
    body: ContactBody,
    principal: Handler,
    version: ExpectedVersion,
    pool: Pool,
    keys: Keys,
    response: Response,
) -> ReferralRead:
    command = RecordContact(body.method, body.result, body.note)
    return await _act(referral_id, principal, command, version, pool, keys, response)


@router.post(
    "/{referral_id}/follow-ups",
    status_code=status.HTTP_201_CREATED,
    response_model=ReferralRead,
    summary="Record a follow-up of the person",
)
async def record_follow_up(
    referral_id: uuid.UUID,
    body: FollowUpBody,
    principal: Handler,
    version: ExpectedVersion,
    pool: Pool,
    keys: Keys,
    response: Response,
) -> ReferralRead:
    command = RecordFollowUp(body.method, body.note)
    return await _act(referral_id, principal, command, version, pool, keys, response)


@router.post(
    "/{referral_id}/complete", response_model=ReferralRead, summary="End it with an outcome"
)
async def complete(
    referral_id: uuid.UUID,
    body: CompleteBody,
    principal: Handler,
    version: ExpectedVersion,
    pool: Pool,
    keys: Keys,
    response: Response,
) -> ReferralRead:
    command = Complete(body.outcome, body.note)
    return await _act(referral_id, principal, command, version, pool, keys, response)


@router.post(
    "/{referral_id}/assign",
    response_model=ReferralRead,
    summary="Give it to a counsellor or coordinator of the receiver",
)
async def assign(
    referral_id: uuid.UUID,
    body: AssignBody,
    principal: Coordinator,
    version: ExpectedVersion,
    pool: Pool,
    keys: Keys,
    response: Response,
) -> ReferralRead:
    command = Assign(body.assignee_id, body.assignee_role)
    return await _act(referral_id, principal, command, version, pool, keys, response)


@router.post(
    "/{referral_id}/cancel",
    response_model=ReferralRead,
    summary="Cancel an open referral (an administrator of either end)",
)
async def cancel(
    referral_id: uuid.UUID,
    body: CancelBody,
    principal: Admin,
    version: ExpectedVersion,
    pool: Pool,
    keys: Keys,
    response: Response,
) -> ReferralRead:
    command = Cancel(body.reason, body.note)
    return await _act(referral_id, principal, command, version, pool, keys, response)
