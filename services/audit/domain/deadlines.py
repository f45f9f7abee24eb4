"""A referral's deadlines, as the audit service follows them: each step of a referral meets,
closes or opens deadlines, and each deadline raises `approaching`, `missed` and `met` at most
once each.

The due dates are the referral service's (services/referral/domain/deadlines.py): acknowledging,
deciding and first contact are due at the end of the N-th Norwegian working day after the
calendar day (in Oslo) of the step that starts them; a follow-up is due N calendar days after
the work started or was last followed up. Which step does what:

- submitted: the receiver must acknowledge it;
- received: acknowledged; the receiver must decide;
- accepted: decided; the receiver must make first contact;
- rejected: decided; nothing more is due;
- redirected: the old receiver decided (to send it on); the new receiver must acknowledge it,
  under the agreement version the redirect names;
- started: the first follow-up is due; each follow-up recorded meets it and starts the next;
- a contact that reached the person: first contact made (one that did not reach them is not);
- withdrawn, cancelled, completed: whatever is still due is closed, unmet.

A deadline is missed when its due time came before it was met or closed; a deadline met late
raises `missed` (if it was not raised yet) and then `met`, in that order."""

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

from schemas.deadlines import DeadlineApproachingV1, DeadlineKind, DeadlineMetV1, DeadlineMissedV1
from schemas.directory import ServiceLevels
from schemas.envelope import EventData
from schemas.ids import AgreementId, OrganisationId, ReferralId, SubjectId
from schemas.referrals import (
    ContactResult,
    ReferralAcceptedV1,
    ReferralCancelledV1,
    ReferralCompletedV1,
    ReferralContactRecordedV1,
    ReferralEvent,
    ReferralFollowUpRecordedV1,
    ReferralReceivedV1,
    ReferralRedirectedV1,
    ReferralRejectedV1,
    ReferralStartedV1,
    ReferralSubmittedV1,
    ReferralWithdrawnV1,
)
from services.plumbing.working_days import (
    add_working_days,
    end_of_day,
    oslo_date,
    subtract_working_days,
)

# Deadline and notice ids are derived, never drawn: the same deadline, or the same notice of
# it, always has the same id (and the outbox refuses an event id twice).
_NAMESPACE = uuid.UUID("6f1c2d0e-8b7a-5d4e-9c3b-2a1f0e9d8c7b")


class Notice(StrEnum):
    """What is raised about a deadline, each at most once."""

    APPROACHING = "approaching"
    MISSED = "missed"
    MET = "met"


class DeadlineState(StrEnum):
    """Where a deadline stands, as auditors see it."""

    PENDING = "pending"  # its agreement version's service levels are not known yet
    OPEN = "open"  # due, not met, not (yet) missed
    MISSED = "missed"  # its due time passed unmet (it may have been met late since)
    MET = "met"  # met in time
    CLOSED = "closed"  # nothing more is due (withdrawn, rejected, cancelled, completed)


@dataclass(frozen=True)
class Deadline:
    """One occurrence of one kind of deadline of one referral, and what was raised of it."""

    referral_id: ReferralId
    kind: DeadlineKind
    occurrence: int
    subject_id: SubjectId
    organisation_id: OrganisationId  # the one that must meet it
    agreement_id: AgreementId
    agreement_version: int
    starts_at: dt.datetime  # the step that started it
    due_at: dt.datetime | None = None  # None until the service levels are known
    met_at: dt.datetime | None = None  # when the step that met it was taken
    closed_at: dt.datetime | None = None  # when it was closed unmet
    approaching_raised_at: dt.datetime | None = None
    missed_raised_at: dt.datetime | None = None
    met_raised_at: dt.datetime | None = None

    @property
    def key(self) -> tuple[ReferralId, DeadlineKind, int]:
        """What identifies it; `deadline_id` is derived from it (and costs a hash)."""
        return (self.referral_id, self.kind, self.occurrence)

    @property
    def deadline_id(self) -> uuid.UUID:
        return deadline_id(self.referral_id, self.kind, self.occurrence)

    @property
    def ended_at(self) -> dt.datetime | None:
        """When it stopped being due: met or closed."""
        return self.met_at if self.met_at is not None else self.closed_at

    @property
    def state(self) -> DeadlineState:
        if self.due_at is None:
            return DeadlineState.PENDING
        if self.missed_raised_at is not None:
            return DeadlineState.MISSED
        if self.met_at is not None:
            return DeadlineState.MET
        if self.closed_at is not None:
            return DeadlineState.CLOSED
        return DeadlineState.OPEN


def deadline_id(referral_id: uuid.UUID, kind: DeadlineKind, occurrence: int) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{referral_id}/{kind.value}/{occurrence}")


def notice_id(deadline: Deadline, notice: Notice) -> uuid.UUID:
    """The event id of a notice of a deadline: one id per (referral, kind, occurrence)."""
    return uuid.uuid5(_NAMESPACE, f"{deadline.deadline_id}/{notice.value}")


def due_at(kind: DeadlineKind, starts_at: dt.datetime, levels: ServiceLevels) -> dt.datetime:
    """When a deadline started at `starts_at` falls due under the service levels."""
    start = oslo_date(starts_at)
    match kind:
        case DeadlineKind.ACKNOWLEDGE:
            day = add_working_days(start, levels.acknowledge_within_working_days)
        case DeadlineKind.DECIDE:
            day = add_working_days(start, levels.decide_within_working_days)
        case DeadlineKind.FIRST_CONTACT:
            day = add_working_days(start, levels.first_contact_within_working_days)
        case DeadlineKind.FOLLOW_UP:
            day = start + dt.timedelta(days=levels.follow_up_every_days)
    return end_of_day(day)


def approaching_from(due: dt.datetime, working_days: int) -> dt.datetime:
    """When a deadline starts approaching: at the end of the N-th working day before the day
    it falls due (with 1, for the whole of its last working day)."""
    due_day = oslo_date(due - dt.timedelta(microseconds=1))
    return end_of_day(subtract_working_days(due_day, working_days))


def approaching_horizon(now: dt.datetime, working_days: int) -> dt.datetime:
    """No deadline due later than this approaches at `now` (a bound for finding them: N
    working days are never more than 2N + 10 calendar days)."""
    return now + dt.timedelta(days=2 * working_days + 10)


def notices_due(
    deadline: Deadline,
    *,
    now: dt.datetime,
    approaching_working_days: int | None = None,
    grace: dt.timedelta = dt.timedelta(0),
) -> list[Notice]:
    """What is to be raised about the deadline now, in order; approaching only when
    `approaching_working_days` is given (the scanner's business, not the consumer's). An
    open deadline is missed only `grace` after its due time: a step taken just in time may
    still be on its way to the audit service."""
    if deadline.due_at is None:
        return []
    notices: list[Notice] = []
    ended = deadline.ended_at
    if (
        approaching_working_days is not None
        and ended is None
        and deadline.approaching_raised_at is None
        and deadline.missed_raised_at is None
        and approaching_from(deadline.due_at, approaching_working_days) <= now < deadline.due_at
    ):
        notices.append(Notice.APPROACHING)
    if deadline.missed_raised_at is None and (
        ended >= deadline.due_at if ended is not None else now >= deadline.due_at + grace
    ):
        notices.append(Notice.MISSED)
    if deadline.met_at is not None and deadline.met_raised_at is None:
        notices.append(Notice.MET)
    return notices


def raised(deadline: Deadline, notice: Notice, now: dt.datetime) -> Deadline:
    """The deadline once `notice` was raised at `now`."""
    match notice:
        case Notice.APPROACHING:
            return replace(deadline, approaching_raised_at=now)
        case Notice.MISSED:
            return replace(deadline, missed_raised_at=now)
        case Notice.MET:
            return replace(deadline, met_raised_at=now)


def notice_event(
    deadline: Deadline, notice: Notice, now: dt.datetime
) -> DeadlineApproachingV1 | DeadlineMissedV1 | DeadlineMetV1:
    """The event of a notice (a deadline with a due time)."""
    assert deadline.due_at is not None, "only a deadline with a due time raises anything"
    fields = {
        "referral_id": deadline.referral_id,
        "subject_id": deadline.subject_id,
        "kind": deadline.kind,
        "due_at": deadline.due_at,
        "organisation_id": deadline.organisation_id,
        "agreement_id": deadline.agreement_id,
        "agreement_version": deadline.agreement_version,
        "occurred_at": now,
    }
    match notice:
        case Notice.APPROACHING:
            return DeadlineApproachingV1.model_validate(fields)
        case Notice.MISSED:
            return DeadlineMissedV1.model_validate(fields)
        case Notice.MET:
            assert deadline.met_at is not None
            return DeadlineMetV1.model_validate(fields | {"met_at": deadline.met_at})


@dataclass(frozen=True)
class Step:
    """What one step of a referral does to its deadlines, applied in this order: meet the
    unmet ones of `meets`, close every other unmet one if `closes`, then open `opens` for
    the (new) receiver."""

    referral_id: ReferralId
    subject_id: SubjectId
    at: dt.datetime
    receiver: OrganisationId
    meets: frozenset[DeadlineKind] = frozenset()
    closes: bool = False
    opens: tuple[DeadlineKind, ...] = ()
    # The agreement (and version) the referral is under from this step on, when it says.
    agreement: tuple[AgreementId, int] | None = None
    # The organisation that sent the referral (every step names it).
    sender: OrganisationId | None = None


_ACKNOWLEDGED = frozenset({DeadlineKind.ACKNOWLEDGE})
_DECIDED = frozenset({DeadlineKind.ACKNOWLEDGE, DeadlineKind.DECIDE})


def step_of(data: EventData) -> Step | None:
    """What a referral event does to the referral's deadlines; None when nothing."""
    if not isinstance(data, ReferralEvent):  # an assignment changes no deadline: None below
        return None

    # Each Step is made once, with its effects (this runs for every event the audit logs).
    def step(
        *,
        meets: frozenset[DeadlineKind] = frozenset(),
        closes: bool = False,
        opens: tuple[DeadlineKind, ...] = (),
        agreement: tuple[AgreementId, int] | None = None,
    ) -> Step:
        return Step(
            data.referral_id,
            data.subject_id,
            data.occurred_at,
            data.to_organisation_id,
            meets,
            closes,
            opens,
            agreement,
            data.from_organisation_id,
        )

    match data:
        case ReferralSubmittedV1():
            return step(
                opens=(DeadlineKind.ACKNOWLEDGE,),
                agreement=(data.agreement_id, data.agreement_version),
            )
        case ReferralReceivedV1():
            return step(meets=_ACKNOWLEDGED, opens=(DeadlineKind.DECIDE,))
        case ReferralAcceptedV1():
            return step(meets=_DECIDED, opens=(DeadlineKind.FIRST_CONTACT,))
        case ReferralRejectedV1():
            return step(meets=_DECIDED, closes=True)
        case ReferralRedirectedV1():
            return step(
                meets=_DECIDED,
                closes=True,
                opens=(DeadlineKind.ACKNOWLEDGE,),
                agreement=(data.agreement_id, data.agreement_version),
            )
        case ReferralStartedV1():
            return step(opens=(DeadlineKind.FOLLOW_UP,))
        case ReferralContactRecordedV1():
            if data.result is not ContactResult.REACHED:
                return None
            return step(meets=frozenset({DeadlineKind.FIRST_CONTACT}))
        case ReferralFollowUpRecordedV1():
            return step(
                meets=frozenset({DeadlineKind.FOLLOW_UP}),
                opens=(DeadlineKind.FOLLOW_UP,),
            )
        case ReferralWithdrawnV1() | ReferralCompletedV1() | ReferralCancelledV1():
            return step(closes=True)
    return None


def take_step(deadline: Deadline, step: Step) -> Deadline:
    """An unmet, unclosed deadline after a step: met, closed or as it was."""
    if deadline.ended_at is not None:
        return deadline
    if deadline.kind in step.meets:
        return replace(deadline, met_at=step.at)
    if step.closes:
        return replace(deadline, closed_at=step.at)
    return deadline


def with_service_levels(deadline: Deadline, levels: ServiceLevels | None) -> Deadline:
    """The deadline with its due time, once its agreement version's levels are known."""
    if levels is None or deadline.due_at is not None:
        return deadline
    return replace(deadline, due_at=due_at(deadline.kind, deadline.starts_at, levels))
