"""Who may do what to a referral: which organisation (sending or receiving) and which roles."""

from dataclasses import dataclass
from enum import StrEnum

from schemas.actors import Actor
from schemas.codes import Role
from schemas.ids import OrganisationId
from services.referral.domain.errors import NotAllowed
from services.referral.domain.status import ReferralAction


class Party(StrEnum):
    """Which end of a referral an actor must belong to."""

    SENDING = "sending"
    RECEIVING = "receiving"
    EITHER = "sending or receiving"


@dataclass(frozen=True)
class Permission:
    """An action is for some roles of one end of the referral."""

    party: Party
    roles: frozenset[Role]


_HANDLERS = frozenset({Role.COUNSELLOR, Role.COORDINATOR})
_SENDERS = frozenset({Role.FILER, Role.COORDINATOR})

PERMISSIONS: dict[ReferralAction, Permission] = {
    ReferralAction.FILE: Permission(Party.SENDING, _SENDERS),
    ReferralAction.WITHDRAW: Permission(Party.SENDING, _SENDERS),
    ReferralAction.RECEIVE: Permission(Party.RECEIVING, _HANDLERS),
    ReferralAction.ACCEPT: Permission(Party.RECEIVING, _HANDLERS),
    ReferralAction.REJECT: Permission(Party.RECEIVING, _HANDLERS),
    ReferralAction.REDIRECT: Permission(Party.RECEIVING, _HANDLERS),
    ReferralAction.START: Permission(Party.RECEIVING, _HANDLERS),
    ReferralAction.RECORD_CONTACT: Permission(Party.RECEIVING, _HANDLERS),
    ReferralAction.RECORD_FOLLOW_UP: Permission(Party.RECEIVING, _HANDLERS),
    ReferralAction.COMPLETE: Permission(Party.RECEIVING, _HANDLERS),
    ReferralAction.ASSIGN: Permission(Party.RECEIVING, frozenset({Role.COORDINATOR})),
    # An administrator of either end; the cancellations that follow from a withdrawn consent
    # or an erased person are made by the system, through that withdrawal or erasure.
    ReferralAction.CANCEL: Permission(Party.EITHER, frozenset({Role.ADMIN})),
}
# Who may be given a referral to handle.
ASSIGNABLE_ROLES = _HANDLERS


def check_permission(
    action: ReferralAction, actor: Actor, *, sender: OrganisationId, receiver: OrganisationId
) -> None:
    """Raise NotAllowed unless the actor's organisation and role may take the action."""
    permission = PERMISSIONS[action]
    organisations = {
        Party.SENDING: {sender},
        Party.RECEIVING: {receiver},
        Party.EITHER: {sender, receiver},
    }[permission.party]
    if actor.organisation_id in organisations and actor.role in permission.roles:
        return
    roles = " or ".join(sorted(permission.roles))
    raise NotAllowed(
        action=action,
        role=actor.role,
        why=f"only a {roles} of the {permission.party.value} organisation may",
    )
