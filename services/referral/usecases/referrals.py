"""Referrals: file one, read it and its history, take an action on it, list the worklists, and
reassign in bulk. Each use case is one transaction: load, let the domain decide, save the
referral with its events.

Who sees what: a referral is visible to the organisation that filed it, the one it is with
now, and any that had it before a redirection (they keep seeing the history they took part
in); to everyone else it does not exist (NotFound, never a hint that it does). Within those
organisations, the domain's permissions say which role may take which action. Opening a
referral or its history is a read of the person's data and is recorded as an access event;
a worklist shows only ids, codes and times, so listing it is not."""

import datetime as dt
from dataclasses import dataclass, field

from schemas.access import AccessPurpose, Resource
from schemas.actors import Actor
from schemas.codes import Purpose, Role
from schemas.directory import Situation
from schemas.ids import (
    ActorId,
    ConsentId,
    ContactId,
    FollowUpId,
    OrganisationId,
    ReferralId,
    SubjectId,
)
from schemas.referrals import (
    CancellationReason,
    ContactMethod,
    ContactResult,
    Outcome,
    RedirectionReason,
    ReferralRedirectedV1,
    RejectionReason,
    StatutoryBasis,
    WithdrawalReason,
)
from services.plumbing.auth import Principal
from services.plumbing.database import Connection, atomic
from services.referral.crypto import StoreKeys
from services.referral.domain import bulk
from services.referral.domain.consents import Consent
from services.referral.domain.organisations import Organisation
from services.referral.domain.permissions import PERMISSIONS
from services.referral.domain.referral import Referral
from services.referral.domain.status import OPEN_STATUSES, ReferralAction, ReferralStatus
from services.referral.domain.subjects import Subject
from services.referral.store import agreements, consents, organisations, subjects, worklists
from services.referral.store import referrals as store
from services.referral.store.access import record_access
from services.referral.store.errors import NotFound
from services.referral.store.worklists import Cursor, Page
from services.referral.usecases.acting import Clock, new_id, now
from services.referral.usecases.errors import (
    NotPermitted,
    ProcessingRestricted,
    UnknownReference,
)

# Who may open referrals and list worklists: the people who file and handle them, and the
# administrators who cancel them. Auditors read the audit service, not case files.
READERS = frozenset({Role.FILER, Role.COUNSELLOR, Role.COORDINATOR, Role.ADMIN})


@dataclass(frozen=True, repr=False)
class Filing:
    """What a filer says when they refer a person; the note is free text about them."""

    subject_id: SubjectId
    to_organisation_id: OrganisationId
    purpose: Purpose
    situation: Situation
    consent_id: ConsentId | None = None
    statutory_basis: StatutoryBasis | None = None
    note: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Filing(subject_id={self.subject_id!s}, note=<hidden>)"


@dataclass(frozen=True, repr=False)
class Redirect:
    """Where the receiver sends a referral on, why, and on what legal basis."""

    to_organisation_id: OrganisationId
    reason: RedirectionReason
    consent_id: ConsentId | None = None
    statutory_basis: StatutoryBasis | None = None
    note: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Redirect(to_organisation_id={self.to_organisation_id!s}, note=<hidden>)"


def acting_for(principal: Principal, action: ReferralAction) -> Actor:
    """The caller as the actor of an action: in the first role they hold that may take it, or
    else in one of their roles, so that the domain refuses it and says why."""
    allowed = sorted(PERMISSIONS[action].roles & principal.roles)
    role = allowed[0] if allowed else sorted(principal.roles)[0]
    return Actor(actor_id=principal.actor_id, organisation_id=principal.organisation_id, role=role)


async def file_referral(
    connection: Connection,
    filing: Filing,
    principal: Principal,
    *,
    keys: StoreKeys,
    clock: Clock = now,
) -> Referral:
    """File a referral from the caller's organisation (ReferralSubmittedV1)."""
    async with atomic(connection):
        subject = await _subject(connection, filing.subject_id, keys)
        sender, receiver = await _sender_and_receiver(
            connection, principal, filing.to_organisation_id
        )
        consent = await _consent(connection, filing.consent_id)
        at = clock()
        referral = Referral.file(
            referral_id=ReferralId(new_id()),
            subject=subject,
            sender=sender,
            receiver=receiver,
            purpose=filing.purpose,
            situation=filing.situation,
            agreements=await agreements.latest_of_party(connection, sender.organisation_id),
            consent=consent,
            statutory_basis=filing.statutory_basis,
            actor=acting_for(principal, ReferralAction.FILE),
            now=at,
            note=filing.note,
        )
        await store.save(connection, referral, expected_version=0, new_id=new_id, now=at, keys=keys)
    return referral


async def read_referral(
    connection: Connection, referral_id: ReferralId, principal: Principal, *, keys: StoreKeys
) -> Referral:
    """The referral, when the caller's organisation may see it; recorded as an access."""
    async with connection.transaction():
        referral = await _visible(connection, referral_id, principal, keys)
        await _record_access(connection, principal, referral, Resource.REFERRAL)
    return referral


async def read_history(
    connection: Connection, referral_id: ReferralId, principal: Principal, *, keys: StoreKeys
) -> Referral:
    """The referral with its history and notes, when the caller's organisation may see it;
    recorded as an access to the notes."""
    async with connection.transaction():
        referral = await _visible(connection, referral_id, principal, keys)
        await _record_access(connection, principal, referral, Resource.REFERRAL_NOTES)
    return referral


# The actions on a referral, as commands: what the caller asks, with what it needs.


@dataclass(frozen=True)
class Receive:
    pass


@dataclass(frozen=True)
class Accept:
    pass


@dataclass(frozen=True)
class Start:
    pass


@dataclass(frozen=True, repr=False)
class Reject:
    reason: RejectionReason
    note: str | None = None


@dataclass(frozen=True, repr=False)
class Withdraw:
    reason: WithdrawalReason
    note: str | None = None


@dataclass(frozen=True, repr=False)
class Complete:
    outcome: Outcome
    note: str | None = None


@dataclass(frozen=True, repr=False)
class Cancel:
    reason: CancellationReason
    note: str | None = None


@dataclass(frozen=True, repr=False)
class RecordContact:
    method: ContactMethod
    result: ContactResult
    note: str | None = None


@dataclass(frozen=True, repr=False)
class RecordFollowUp:
    method: ContactMethod
    note: str | None = None


@dataclass(frozen=True)
class Assign:
    """To a user of the caller's organisation (the receiver): the token vouches for the
    coordinator's organisation, the coordinator for the assignee's."""

    assignee_id: ActorId
    assignee_role: Role


Command = (
    Receive
    | Accept
    | Start
    | Reject
    | Withdraw
    | Complete
    | Cancel
    | RecordContact
    | RecordFollowUp
    | Assign
    | Redirect
)

ACTIONS: dict[type[Command], ReferralAction] = {
    Receive: ReferralAction.RECEIVE,
    Accept: ReferralAction.ACCEPT,
    Start: ReferralAction.START,
    Reject: ReferralAction.REJECT,
    Withdraw: ReferralAction.WITHDRAW,
    Complete: ReferralAction.COMPLETE,
    Cancel: ReferralAction.CANCEL,
    RecordContact: ReferralAction.RECORD_CONTACT,
    RecordFollowUp: ReferralAction.RECORD_FOLLOW_UP,
    Assign: ReferralAction.ASSIGN,
    Redirect: ReferralAction.REDIRECT,
}


async def act(
    connection: Connection,
    referral_id: ReferralId,
    principal: Principal,
    command: Command,
    *,
    expected_version: int,
    keys: StoreKeys,
    clock: Clock = now,
) -> Referral:
    """Take an action on a referral the caller's organisation can see, if the caller saw its
    current version (StaleVersion otherwise); one event, saved with the referral."""
    async with atomic(connection):
        referral = await _visible(connection, referral_id, principal, keys, lock=True)
        at = clock()
        actor = acting_for(principal, ACTIONS[type(command)])
        await _apply(connection, referral, command, actor, expected_version, at, keys)
        await store.save(
            connection,
            referral,
            expected_version=expected_version,
            new_id=new_id,
            now=at,
            keys=keys,
        )
    return referral


async def _apply(
    connection: Connection,
    referral: Referral,
    command: Command,
    actor: Actor,
    version: int,
    at: dt.datetime,
    keys: StoreKeys,
) -> None:
    match command:
        case Receive():
            referral.receive(actor, expected_version=version, now=at)
        case Accept():
            referral.accept(actor, expected_version=version, now=at)
        case Start():
            referral.start(actor, expected_version=version, now=at)
        case Reject(reason, note):
            referral.reject(actor, reason, expected_version=version, now=at, note=note)
        case Withdraw(reason, note):
            referral.withdraw(actor, reason, expected_version=version, now=at, note=note)
        case Complete(outcome, note):
            referral.complete(actor, outcome, expected_version=version, now=at, note=note)
        case Cancel(reason, note):
            referral.cancel(actor, reason, expected_version=version, now=at, note=note)
        case RecordContact(method, result, note):
            referral.record_contact(
                actor,
                contact_id=ContactId(new_id()),
                method=method,
                result=result,
                expected_version=version,
                now=at,
                note=note,
            )
        case RecordFollowUp(method, note):
            referral.record_follow_up(
                actor,
                follow_up_id=FollowUpId(new_id()),
                method=method,
                expected_version=version,
                now=at,
                note=note,
            )
        case Assign(assignee_id, assignee_role):
            assignee = Actor(
                actor_id=assignee_id, organisation_id=actor.organisation_id, role=assignee_role
            )
            referral.assign(actor, assignee, expected_version=version, now=at)
        case Redirect():
            to, current_receiver = await _redirection_organisations(
                connection, command.to_organisation_id, referral.to_organisation_id
            )
            referral.redirect(
                actor,
                to=to,
                current_receiver=current_receiver,
                reason=command.reason,
                subject=await _subject(connection, referral.subject_id, keys),
                agreements=await agreements.latest_of_party(
                    connection, referral.to_organisation_id
                ),
                consent=await _consent(connection, command.consent_id),
                statutory_basis=command.statutory_basis,
                expected_version=version,
                now=at,
                note=command.note,
            )


async def reassign(
    connection: Connection,
    principal: Principal,
    leaving: ActorId,
    assignee_id: ActorId,
    assignee_role: Role,
    *,
    keys: StoreKeys,
) -> list[Referral]:
    """Give every open referral of the caller's organisation assigned to a user who leaves to
    another of its users, all or nothing (one ReferralAssignedV1 each)."""
    assignee = Actor(
        actor_id=assignee_id, organisation_id=principal.organisation_id, role=assignee_role
    )
    async with connection.transaction():
        rows = await connection.fetch(
            """SELECT referral_id FROM referrals
               WHERE to_organisation_id = $1 AND assigned_counsellor = $2
                 AND status = ANY($3::text[])
               ORDER BY referral_id FOR UPDATE""",
            principal.organisation_id,
            leaving,
            sorted(status.value for status in OPEN_STATUSES),
        )
        loaded = [await store.get(connection, ReferralId(row["referral_id"]), keys) for row in rows]
        versions = {referral.referral_id: referral.version for referral in loaded}
        at = now()
        changed = bulk.reassign(
            loaded,
            leaving=leaving,
            assignee=assignee,
            actor=acting_for(principal, ReferralAction.ASSIGN),
            now=at,
        )
        for referral in changed:
            await store.save(
                connection,
                referral,
                expected_version=versions[referral.referral_id],
                new_id=new_id,
                now=at,
                keys=keys,
            )
    return changed


async def worklist(
    connection: Connection,
    principal: Principal,
    *,
    box: str,
    statuses: frozenset[ReferralStatus] | None,
    counsellor: ActorId | None,
    overdue_only: bool,
    after: Cursor | None,
    limit: int,
) -> Page:
    """A page of the referrals the caller's organisation received (box "received") or sent
    ("sent")."""
    if box == "sent":
        return await worklists.sent(
            connection,
            principal.organisation_id,
            statuses=statuses,
            overdue_only=overdue_only,
            after=after,
            limit=limit,
        )
    return await worklists.received(
        connection,
        principal.organisation_id,
        statuses=statuses,
        counsellor=counsellor,
        overdue_only=overdue_only,
        after=after,
        limit=limit,
    )


def holders(referral: Referral) -> set[OrganisationId]:
    """The organisations that may see a referral: its sender, its receiver, and the
    receivers it was redirected away from."""
    seen = {referral.from_organisation_id, referral.to_organisation_id}
    for entry in referral.history:
        if isinstance(entry.event, ReferralRedirectedV1):
            seen.add(entry.event.redirected_from_organisation_id)
    return seen


async def _visible(
    connection: Connection,
    referral_id: ReferralId,
    principal: Principal,
    keys: StoreKeys,
    *,
    lock: bool = False,
) -> Referral:
    # Locked: serialise actions on one referral; the version check still catches stale callers.
    referral = await store.get(connection, referral_id, keys, for_update=lock)
    if principal.organisation_id not in holders(referral):
        raise NotFound(f"no referral {referral_id}")
    return referral


async def _record_access(
    connection: Connection, principal: Principal, referral: Referral, resource: Resource
) -> None:
    # Read in whichever of their roles lets them read; every reader holds one.
    role = sorted(READERS & principal.roles)[0]
    await record_access(
        connection,
        actor=Actor(
            actor_id=principal.actor_id, organisation_id=principal.organisation_id, role=role
        ),
        subject_id=referral.subject_id,
        purpose=AccessPurpose.CASE_HANDLING,
        resource=resource,
        referral_id=referral.referral_id,
        now=now(),
        new_id=new_id,
    )


async def _subject(connection: Connection, subject_id: SubjectId, keys: StoreKeys) -> Subject:
    """The person, for the rules; SubjectErased when erased, ProcessingRestricted when their
    data may not be processed further."""
    try:
        subject, restricted = await subjects.get_with_restriction(connection, subject_id, keys)
    except NotFound:
        raise UnknownReference("subject_id", "no such subject") from None
    if restricted is not None:
        raise ProcessingRestricted(subject_id)
    return subject


async def _sender_and_receiver(
    connection: Connection, principal: Principal, to_organisation_id: OrganisationId
) -> tuple[Organisation, Organisation]:
    found = await organisations.get_many(
        connection, {principal.organisation_id, to_organisation_id}
    )
    if principal.organisation_id not in found:
        raise NotPermitted("the caller's organisation is not in the directory")
    if to_organisation_id not in found:
        raise UnknownReference("to_organisation_id", "no such organisation in the directory")
    return found[principal.organisation_id], found[to_organisation_id]


async def _redirection_organisations(
    connection: Connection, to_organisation_id: OrganisationId, receiver_id: OrganisationId
) -> tuple[Organisation, Organisation]:
    """Where a referral is redirected to (UnknownReference when it is not in the directory)
    and who has it now, in one read."""
    found = await organisations.get_many(connection, {to_organisation_id, receiver_id})
    if to_organisation_id not in found:
        raise UnknownReference("to_organisation_id", "no such organisation in the directory")
    if receiver_id not in found:
        raise NotFound(f"no organisation {receiver_id}")
    return found[to_organisation_id], found[receiver_id]


async def _consent(connection: Connection, consent_id: ConsentId | None) -> Consent | None:
    if consent_id is None:
        return None
    try:
        return await consents.get(connection, consent_id, for_share=True)
    except NotFound:
        raise UnknownReference("consent_id", "no such consent") from None
