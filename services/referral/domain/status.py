"""A referral's statuses, the actions on it, and which action leads from which status where."""

from dataclasses import dataclass
from enum import StrEnum


class ReferralStatus(StrEnum):
    """Where a referral is in its lifecycle (coarse, like FHIR Task's status)."""

    SUBMITTED = "submitted"  # filed; the receiver has not acknowledged it yet
    RECEIVED = "received"  # the receiver acknowledged it and must decide
    # Sent on by the previous receiver; the new receiver has not acknowledged it yet. It is
    # handled like `submitted` (the new receiver receives it), and the history keeps the step.
    REDIRECTED = "redirected"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset(
    {
        ReferralStatus.SUBMITTED,
        ReferralStatus.RECEIVED,
        ReferralStatus.REDIRECTED,
        ReferralStatus.ACCEPTED,
        ReferralStatus.IN_PROGRESS,
    }
)
CLOSED_STATUSES = frozenset(ReferralStatus) - OPEN_STATUSES
# Waiting for the (current) receiver to acknowledge it.
AWAITING_RECEIPT = frozenset({ReferralStatus.SUBMITTED, ReferralStatus.REDIRECTED})


class ReferralAction(StrEnum):
    """What someone can do to a referral."""

    FILE = "file"
    RECEIVE = "receive"
    ACCEPT = "accept"
    REJECT = "reject"
    REDIRECT = "redirect"
    WITHDRAW = "withdraw"
    START = "start"
    RECORD_CONTACT = "record_contact"
    RECORD_FOLLOW_UP = "record_follow_up"
    COMPLETE = "complete"
    ASSIGN = "assign"
    CANCEL = "cancel"

    @property
    def phrase(self) -> str:
        """The action as a verb phrase that takes "a referral" as its object."""
        return _PHRASES.get(self, self.value)


_PHRASES = {
    ReferralAction.RECORD_CONTACT: "record a contact on",
    ReferralAction.RECORD_FOLLOW_UP: "record a follow-up on",
}


@dataclass(frozen=True)
class Transition:
    """The statuses an action may start from, and the status it leads to (None: unchanged)."""

    from_statuses: frozenset[ReferralStatus]
    to_status: ReferralStatus | None


TRANSITIONS: dict[ReferralAction, Transition] = {
    ReferralAction.RECEIVE: Transition(AWAITING_RECEIPT, ReferralStatus.RECEIVED),
    ReferralAction.ACCEPT: Transition(
        frozenset({ReferralStatus.RECEIVED}), ReferralStatus.ACCEPTED
    ),
    ReferralAction.REJECT: Transition(
        frozenset({ReferralStatus.RECEIVED}), ReferralStatus.REJECTED
    ),
    ReferralAction.REDIRECT: Transition(
        frozenset({ReferralStatus.RECEIVED}), ReferralStatus.REDIRECTED
    ),
    # "Before acceptance": while it waits for receipt or for a decision.
    ReferralAction.WITHDRAW: Transition(
        AWAITING_RECEIPT | {ReferralStatus.RECEIVED}, ReferralStatus.WITHDRAWN
    ),
    ReferralAction.START: Transition(
        frozenset({ReferralStatus.ACCEPTED}), ReferralStatus.IN_PROGRESS
    ),
    ReferralAction.RECORD_CONTACT: Transition(
        frozenset({ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS}), None
    ),
    ReferralAction.RECORD_FOLLOW_UP: Transition(frozenset({ReferralStatus.IN_PROGRESS}), None),
    ReferralAction.COMPLETE: Transition(
        frozenset({ReferralStatus.IN_PROGRESS}), ReferralStatus.COMPLETED
    ),
    ReferralAction.ASSIGN: Transition(OPEN_STATUSES, None),
    ReferralAction.CANCEL: Transition(OPEN_STATUSES, ReferralStatus.CANCELLED),
}
