"""The person's rights: export everything held about them (GDPR art. 15 and 20), restrict the
processing of their data (art. 18), and erase it (art. 17) by destroying their key once the
archive law's retention period allows (domain.retention).

Who may: an administrator (export also a coordinator) of an organisation that has dealings
with the person: it holds one of their referrals (sender, receiver, or a receiver it was
redirected away from) or sees one of their consents (services.referral.usecases.consents).
To any other organisation the person does not exist here (NotFound): knowing a subject_id, or
an identity number that finds it, is not a reason to read or change someone's record.
The export is the person's whole record, across organisations, as the right of access asks;
it is recorded as an access event with purpose subject_rights_request.

What restriction blocks (GDPR art. 18(2): only storage, legal claims and others' rights):
new referrals of the person and new consents for them are refused (ProcessingRestricted),
and so is redirecting a referral (it files it anew). Reading, exporting, withdrawing a
consent and erasing still work: they serve the person's rights or reduce processing.
Restricting again changes the ground and records another event. Lifting a restriction (with
a coded ground; the person is to be told first, art. 18(3)) makes them processable again;
an erased person stays restricted for good.

After erasure every read of the person answers SubjectErased (410): their key is gone, so
nothing about them can be opened; what stays (codes, times, ids) is kept for the archive."""

import datetime as dt
from dataclasses import dataclass

from schemas.access import AccessPurpose, Resource
from schemas.codes import Role
from schemas.ids import SubjectId
from schemas.person import RestrictionGround, RestrictionLiftGround
from services.plumbing.auth import Principal
from services.plumbing.database import Connection
from services.referral.crypto import StoreKeys
from services.referral.domain.consents import Consent
from services.referral.domain.referral import Referral
from services.referral.domain.retention import check_erasable
from services.referral.store import consents, referrals, subjects
from services.referral.store.access import record_access
from services.referral.store.errors import NotFound
from services.referral.store.subjects import PersonalData
from services.referral.usecases.acting import actor_of, new_id, now
from services.referral.usecases.consents import visible_consents
from services.referral.usecases.referrals import holders

EXPORTERS = (Role.ADMIN, Role.COORDINATOR)


@dataclass(frozen=True, repr=False)
class Export:
    """Everything held about a person, opened: for the person, never for a log."""

    personal_data: PersonalData
    consents: list[Consent]
    referrals: list[Referral]
    exported_at: dt.datetime

    def __repr__(self) -> str:
        return f"Export(subject_id={self.personal_data.subject_id!s}, <hidden>)"


@dataclass(frozen=True)
class Restriction:
    subject_id: SubjectId
    restricted_at: dt.datetime
    ground: RestrictionGround


async def export_subject(
    connection: Connection, subject_id: SubjectId, principal: Principal, *, keys: StoreKeys
) -> Export:
    """Everything held about the person, decrypted; recorded as an access (export, for a
    subject rights request). NotFound; SubjectErased."""
    async with connection.transaction():
        data = await subjects.personal_data(connection, subject_id, keys)
        held = await referrals.of_subject(connection, subject_id, keys)
        await _check_dealings(connection, subject_id, principal, keys, held)
        at = now()
        await record_access(
            connection,
            actor=actor_of(principal, *EXPORTERS),
            subject_id=subject_id,
            purpose=AccessPurpose.SUBJECT_RIGHTS_REQUEST,
            resource=Resource.EXPORT,
            now=at,
            new_id=new_id,
        )
        return Export(
            personal_data=data,
            consents=await consents.of_subject(connection, subject_id),
            referrals=held,
            exported_at=at,
        )


async def restrict_subject(
    connection: Connection,
    subject_id: SubjectId,
    ground: RestrictionGround,
    principal: Principal,
    *,
    keys: StoreKeys,
) -> Restriction:
    """Restrict the processing of the person's data from now on (SubjectRestrictedV1).
    NotFound; SubjectErased."""
    async with connection.transaction():
        await subjects.restricted_since(connection, subject_id)
        held = await referrals.of_subject(connection, subject_id, keys)
        await _check_dealings(connection, subject_id, principal, keys, held)
        await subjects.restrict(
            connection,
            subject_id,
            ground,
            actor=actor_of(principal, Role.ADMIN),
            now=now(),
            new_id=new_id,
        )
        since = await subjects.restricted_since(connection, subject_id)
    assert since is not None
    return Restriction(subject_id, since, ground)


@dataclass(frozen=True)
class Lifting:
    subject_id: SubjectId
    restricted_since: dt.datetime
    lifted_at: dt.datetime
    ground: RestrictionLiftGround


async def lift_restriction(
    connection: Connection,
    subject_id: SubjectId,
    ground: RestrictionLiftGround,
    principal: Principal,
    *,
    keys: StoreKeys,
) -> Lifting:
    """End the restriction of the person's data (SubjectRestrictionLiftedV1); the person is to
    be told before (GDPR art. 18(3)), which is the caller's duty. NotRestricted; NotFound;
    SubjectErased (erasure is for good)."""
    async with connection.transaction():
        await subjects.restricted_since(connection, subject_id)
        held = await referrals.of_subject(connection, subject_id, keys)
        await _check_dealings(connection, subject_id, principal, keys, held)
        at = now()
        since = await subjects.lift_restriction(
            connection,
            subject_id,
            ground,
            actor=actor_of(principal, Role.ADMIN),
            now=at,
            new_id=new_id,
        )
    return Lifting(subject_id, since, at, ground)


async def erase_subject(
    connection: Connection, subject_id: SubjectId, principal: Principal, *, keys: StoreKeys
) -> dt.datetime:
    """Destroy the person's key once retention allows (SubjectErasedV1); when it was erased.
    RetentionNotOver while a referral is open or closed within the retention period;
    NotFound; SubjectErased. It cancels nothing: an open referral refuses it instead."""
    async with connection.transaction():
        # Lock the person first: a referral filed for them meanwhile (its row takes a key
        # share lock on this one) either commits before, and is seen below, or after.
        await connection.execute(
            "SELECT 1 FROM subjects WHERE subject_id = $1 FOR UPDATE", subject_id
        )
        await subjects.restricted_since(connection, subject_id)
        held = await referrals.of_subject(connection, subject_id, keys)
        await _check_dealings(connection, subject_id, principal, keys, held)
        at = now()
        check_erasable(subject_id, held, at)
        await subjects.erase(
            connection, subject_id, actor=actor_of(principal, Role.ADMIN), now=at, new_id=new_id
        )
    return at


async def _check_dealings(
    connection: Connection,
    subject_id: SubjectId,
    principal: Principal,
    keys: StoreKeys,
    held: list[Referral],
) -> None:
    """NotFound unless the caller's organisation has dealings with the person."""
    if any(principal.organisation_id in holders(referral) for referral in held):
        return
    if await visible_consents(connection, subject_id, principal, keys):
        return
    raise NotFound(f"no subject {subject_id}")
