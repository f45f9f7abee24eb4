"""A referral's deadlines from its agreement's service levels.

Acknowledging, deciding and first contact are counted in Norwegian working days from the
calendar day (in Europe/Oslo) of the step that starts them: the step's own day never counts,
and the deadline is the end of the N-th working day after it (midnight in Oslo). Follow-up is
counted in calendar days, as the agreement says, from the start of the work or the last
follow-up. Contact that did not reach the person does not meet the first-contact deadline."""

import datetime as dt
from dataclasses import dataclass

from schemas.deadlines import DeadlineKind
from schemas.directory import ServiceLevels
from schemas.referrals import ContactResult
from services.plumbing.working_days import (
    add_working_days,
    end_of_day,
    is_working_day,
    oslo_date,
)
from services.referral.domain.referral import Referral
from services.referral.domain.status import AWAITING_RECEIPT, ReferralStatus

__all__ = [
    "Deadline",
    "acknowledge_deadline",
    "add_working_days",
    "decide_deadline",
    "first_contact_deadline",
    "follow_up_deadline",
    "is_working_day",
    "open_deadlines",
]


@dataclass(frozen=True)
class Deadline:
    """When a service level falls due: the last Norwegian day, and the instant that day ends."""

    kind: DeadlineKind
    due_on: dt.date
    due_at: dt.datetime

    @classmethod
    def on(cls, kind: DeadlineKind, day: dt.date) -> "Deadline":
        """The deadline at the end of a Norwegian calendar day."""
        return cls(kind, day, end_of_day(day))

    def is_missed_at(self, at: dt.datetime) -> bool:
        """Whether the deadline has passed, unmet, at an instant."""
        return at >= self.due_at


def acknowledge_deadline(addressed_at: dt.datetime, levels: ServiceLevels) -> Deadline:
    """Receipt is due N working days after the referral reached its current receiver."""
    day = add_working_days(oslo_date(addressed_at), levels.acknowledge_within_working_days)
    return Deadline.on(DeadlineKind.ACKNOWLEDGE, day)


def decide_deadline(received_at: dt.datetime, levels: ServiceLevels) -> Deadline:
    """Acceptance or rejection is due N working days after receipt."""
    day = add_working_days(oslo_date(received_at), levels.decide_within_working_days)
    return Deadline.on(DeadlineKind.DECIDE, day)


def first_contact_deadline(accepted_at: dt.datetime, levels: ServiceLevels) -> Deadline:
    """The first contact with the person is due N working days after acceptance."""
    day = add_working_days(oslo_date(accepted_at), levels.first_contact_within_working_days)
    return Deadline.on(DeadlineKind.FIRST_CONTACT, day)


def follow_up_deadline(since: dt.datetime, levels: ServiceLevels) -> Deadline:
    """The next follow-up is due N calendar days after the work started or was last followed
    up, whether or not that day is a working day."""
    day = oslo_date(since) + dt.timedelta(days=levels.follow_up_every_days)
    return Deadline.on(DeadlineKind.FOLLOW_UP, day)


def open_deadlines(referral: Referral, levels: ServiceLevels) -> list[Deadline]:
    """The deadlines the receiver still has to meet, given the referral's status; the levels
    are those of the agreement version the referral is under."""
    if referral.status in AWAITING_RECEIPT:
        return [acknowledge_deadline(referral.addressed_at, levels)]
    if referral.status is ReferralStatus.RECEIVED:
        assert referral.received_at is not None
        return [decide_deadline(referral.received_at, levels)]
    deadlines: list[Deadline] = []
    if referral.status in (ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS):
        assert referral.accepted_at is not None
        if not any(contact.result is ContactResult.REACHED for contact in referral.contacts):
            deadlines.append(first_contact_deadline(referral.accepted_at, levels))
    if referral.status is ReferralStatus.IN_PROGRESS:
        assert referral.started_at is not None
        last = max(
            [referral.started_at, *(follow_up.recorded_at for follow_up in referral.follow_ups)]
        )
        deadlines.append(follow_up_deadline(last, levels))
    return deadlines
