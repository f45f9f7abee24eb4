"""Reads of a person's data, recorded as access events (who, whose, why, what) in the same
transaction as the read, so that no read goes unrecorded."""

import datetime as dt

from schemas.access import AccessPurpose, PersonalDataAccessedV1, Resource
from schemas.actors import Actor
from schemas.ids import AccessId, ReferralId, SubjectId
from services.plumbing.database import Connection
from services.referral.store.events import NewId, enqueue_all


async def record_access(
    connection: Connection,
    *,
    actor: Actor,
    subject_id: SubjectId,
    purpose: AccessPurpose,
    resource: Resource,
    referral_id: ReferralId | None = None,
    now: dt.datetime,
    new_id: NewId,
) -> None:
    """PersonalDataAccessedV1 to the outbox, in the caller's open transaction."""
    event = PersonalDataAccessedV1(
        access_id=AccessId(new_id()),
        actor=actor,
        subject_id=subject_id,
        purpose=purpose,
        resource=resource,
        referral_id=referral_id,
        occurred_at=now,
    )
    await enqueue_all(connection, [event], new_id=new_id, now=now)
