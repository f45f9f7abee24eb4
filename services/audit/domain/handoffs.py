"""A referral's steps as the handoff statistics count them, and the times measured on them.

The statistics (services/audit/domain/statistics.py) count a step in the period its
`occurred_at` falls in, for its receiving organisation (a redirect: the one that sent it on),
and measure three times on it, in hours, each from the latest step of the same referral that
comes before it in (occurred_at, log sequence) order, wherever that step lies:

- to receive: a `received` step, from the latest submission or redirection before it;
- to decide: an `accepted` or `rejected` step, from the latest acknowledgement before it, when
  that acknowledgement came no earlier than the latest submission or redirection (a referral
  redirected and not yet acknowledged again has no decision time);
- to first contact: the first contact that reached the person, from the latest acceptance
  before it.

A referral's steps are measured against all of its steps, in whichever county. (Before the
steps were kept, the statistics measured among the steps that named one of the asking county's
organisations. The two can differ only for a referral filed from outside the county that also
went to an organisation outside it, with steps whose times are out of their order or equal:
the referral service takes a referral's steps one after the other.)

Every step of a referral is kept, each once, whether it is counted or not (a period's groups
are those of the organisations and routes that took any step in it, even one that counts
nothing). What is kept: the ids of the referral and of organisations, codes and times; never
anything about the person."""

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import get_args

from schemas.envelope import EventData
from schemas.referrals import (
    ContactResult,
    ReferralCancelledV1,
    ReferralCompletedV1,
    ReferralContactRecordedV1,
    ReferralEvent,
    ReferralRedirectedV1,
    ReferralRejectedV1,
    ReferralWithdrawnV1,
)

_HOUR_S = 3600


class StepName(StrEnum):
    """A referral's steps, named as their event types name them
    (no.overgang.referral.<step>.v1)."""

    SUBMITTED = "submitted"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    REDIRECTED = "redirected"
    WITHDRAWN = "withdrawn"
    STARTED = "started"
    CONTACT_RECORDED = "contact_recorded"
    FOLLOW_UP_RECORDED = "follow_up_recorded"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ASSIGNED = "assigned"


# Each referral event's step, by its class (this runs for every event the audit logs).
_STEP_NAMES: dict[type[EventData], StepName] = {
    model: StepName(model.ce_type.split(".")[3]) for model in get_args(ReferralEvent)
}
_ARRIVALS = frozenset({StepName.SUBMITTED, StepName.REDIRECTED})
_REACHED = ContactResult.REACHED.value


@dataclass(frozen=True)
class HandoffStep:
    """One step of one referral, with the times measured on it (None: none)."""

    sequence: int  # its row in the audit log
    referral_id: uuid.UUID
    step: StepName
    occurred_at: dt.datetime
    receiver: uuid.UUID
    sender: uuid.UUID
    # The reason of a rejection, redirection, withdrawal or cancellation; a completion's
    # outcome; whether a contact reached the person.
    code: str | None = None
    receive_hours: float | None = None
    decide_hours: float | None = None
    contact_hours: float | None = None

    @property
    def order(self) -> tuple[dt.datetime, int]:
        """Where it stands among its referral's steps."""
        return (self.occurred_at, self.sequence)

    @property
    def times(self) -> tuple[float | None, float | None, float | None]:
        return (self.receive_hours, self.decide_hours, self.contact_hours)


def handoff_step(data: EventData, sequence: int) -> HandoffStep | None:
    """The step an event logged at `sequence` is (not measured yet); None when the event is
    not a referral's step."""
    name = _STEP_NAMES.get(type(data))
    if name is None:
        return None
    assert isinstance(data, ReferralEvent)
    code: str | None = None
    match data:
        case (
            ReferralRejectedV1()
            | ReferralRedirectedV1()
            | ReferralWithdrawnV1()
            | ReferralCancelledV1()
        ):
            code = data.reason.value
        case ReferralCompletedV1():
            code = data.outcome.value
        case ReferralContactRecordedV1():
            code = data.result.value
    return HandoffStep(
        sequence=sequence,
        referral_id=data.referral_id,
        step=name,
        occurred_at=data.occurred_at,
        # A redirect is the decision of the organisation that sent it on.
        receiver=(
            data.redirected_from_organisation_id
            if isinstance(data, ReferralRedirectedV1)
            else data.to_organisation_id
        ),
        sender=data.from_organisation_id,
        code=code,
    )


def _hours(since: dt.datetime, until: dt.datetime) -> float:
    # As PostgreSQL's extract(epoch FROM until - since)::float8 / 3600: the exact seconds,
    # rounded once to a double, then divided.
    return (until - since).total_seconds() / _HOUR_S


def measured(steps: Iterable[HandoffStep]) -> list[HandoffStep]:
    """The steps with their times measured from the other steps of their referral: each
    referral's in their order."""
    by_referral: dict[uuid.UUID, list[HandoffStep]] = {}
    for step in steps:
        by_referral.setdefault(step.referral_id, []).append(step)
    return [step for one in by_referral.values() for step in _measured(one)]


def _measured(steps: list[HandoffStep]) -> list[HandoffStep]:
    """One referral's steps, measured, in their order."""
    arrived_at: dt.datetime | None = None
    received_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None
    reached = 0
    result: list[HandoffStep] = []
    for step in sorted(steps, key=lambda s: s.order):
        at = step.occurred_at
        receive = decide = contact = None
        match step.step:
            case StepName.RECEIVED if arrived_at is not None:
                receive = _hours(arrived_at, at)
            case StepName.ACCEPTED | StepName.REJECTED if (
                received_at is not None and arrived_at is not None and received_at >= arrived_at
            ):
                decide = _hours(received_at, at)
            case StepName.CONTACT_RECORDED if step.code == _REACHED:
                reached += 1
                if reached == 1 and accepted_at is not None:
                    contact = _hours(accepted_at, at)
        # In order, a step's own time is the latest of its kind so far.
        if step.step in _ARRIVALS:
            arrived_at = at
        elif step.step is StepName.RECEIVED:
            received_at = at
        elif step.step is StepName.ACCEPTED:
            accepted_at = at
        if (receive, decide, contact) == step.times:
            result.append(step)
        else:
            result.append(
                replace(step, receive_hours=receive, decide_hours=decide, contact_hours=contact)
            )
    return result


def remeasured(kept: Iterable[HandoffStep], new: Iterable[HandoffStep]) -> list[HandoffStep]:
    """What to write when `new` steps join the `kept` ones: every new step, and every kept
    step of their referrals whose times they changed, measured."""
    fresh = list(new)
    referrals = {step.referral_id for step in fresh}
    before = {step.sequence: step for step in kept if step.referral_id in referrals}
    return [
        step
        for step in measured([*before.values(), *fresh])
        if (old := before.get(step.sequence)) is None or old.times != step.times
    ]
