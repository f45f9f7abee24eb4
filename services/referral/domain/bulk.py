"""Changes to many referrals at once: a bulk reassignment when a counsellor leaves, and the
cancellations that follow a person's erasure."""

import datetime as dt
from collections.abc import Iterable

from schemas.actors import Actor
from schemas.ids import ActorId
from schemas.person import SubjectErasedV1
from services.referral.domain.permissions import check_permission
from services.referral.domain.referral import Referral
from services.referral.domain.status import ReferralAction


def reassign(
    referrals: Iterable[Referral],
    *,
    leaving: ActorId,
    assignee: Actor,
    actor: Actor,
    now: dt.datetime,
) -> list[Referral]:
    """Give every open referral assigned to a user who leaves to another user of the same
    receiving organisation; all or nothing. Returns the referrals reassigned."""
    affected = [r for r in referrals if r.is_open and r.assigned_counsellor == leaving]
    for referral in affected:  # check them all before changing any
        check_permission(
            ReferralAction.ASSIGN,
            actor,
            sender=referral.from_organisation_id,
            receiver=referral.to_organisation_id,
        )
        referral.check_assignee(assignee)
    for referral in affected:
        referral.assign(actor, assignee, expected_version=referral.version, now=now)
    return affected


def cancel_referrals_of_erased_subject(
    erasure: SubjectErasedV1, referrals: Iterable[Referral]
) -> list[Referral]:
    """Cancel every open referral of an erased person; returns the referrals cancelled."""
    affected = [r for r in referrals if r.is_open and r.subject_id == erasure.subject_id]
    for referral in affected:
        referral.cancel_for_erasure(erasure)
    return affected
