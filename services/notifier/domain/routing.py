"""Routing: which organisations an event concerns. An event is told only to them, never to
anyone else.

Most events name their organisations. Three kinds need something remembered from earlier
events (kept by the notifier in `referral_parties` and `agreement_parties`, fed by the same
consumer, see `remember`):
- consent events and a person's restriction or erasure name only the person (a random
  subject_id): they go to the organisations of that person's referrals that the notifier has
  seen (open ones for consents; every one for restriction and erasure, which stop all
  processing) and to the organisation of the actor who recorded them;
- an agreement's termination does not repeat its parties: they come from its last version.
The remembered rows are ids only (no personal data), and a person's rows are deleted when
their erasure has been routed."""

from collections.abc import Iterable
from dataclasses import dataclass

from schemas.access import PersonalDataAccessedV1
from schemas.deadlines import DeadlineApproachingV1, DeadlineMetV1, DeadlineMissedV1
from schemas.directory import (
    AgreementAmendedV1,
    AgreementRegisteredV1,
    AgreementTerminatedV1,
    OrganisationRegisteredV1,
    OrganisationUpdatedV1,
)
from schemas.envelope import EventData
from schemas.ids import AgreementId, OrganisationId, ReferralId, SubjectId
from schemas.notifications import (
    NotificationDeadLetteredV1,
    NotificationDeliveredV1,
    NotificationFailedV1,
)
from schemas.person import (
    ConsentExpiredV1,
    ConsentGivenV1,
    ConsentWithdrawnV1,
    SubjectErasedV1,
    SubjectRegisteredV1,
    SubjectRestrictedV1,
    SubjectRestrictionLiftedV1,
)
from schemas.referrals import (
    ReferralCancelledV1,
    ReferralCompletedV1,
    ReferralEvent,
    ReferralRedirectedV1,
    ReferralRejectedV1,
    ReferralWithdrawnV1,
)
from schemas.registry import MODELS

# Never notified: the notifier's own events (a delivery of a delivery would never end),
# reads of personal data (the audit service's business) and inbound records (another trust
# zone; they may carry identity numbers).
_NOT_NOTIFIED: tuple[type[EventData], ...] = (
    NotificationDeliveredV1,
    NotificationFailedV1,
    NotificationDeadLetteredV1,
    PersonalDataAccessedV1,
)

NOTIFIED_TYPES: frozenset[str] = frozenset(
    model.ce_type for model in MODELS if model not in _NOT_NOTIFIED and not model.topic.inbound
)

# A referral in one of these states has ended: consents no longer concern its parties.
_ENDING = (
    ReferralRejectedV1,
    ReferralWithdrawnV1,
    ReferralCompletedV1,
    ReferralCancelledV1,
)


@dataclass(frozen=True)
class KnownReferral:
    """What the notifier remembers of one referral: its current parties, and whether it is
    still open."""

    referral_id: ReferralId
    subject_id: SubjectId
    organisations: frozenset[OrganisationId]
    open: bool


@dataclass(frozen=True)
class Known:
    """What was remembered from earlier events and is needed to route this one."""

    referrals: tuple[KnownReferral, ...] = ()
    agreement_parties: frozenset[OrganisationId] = frozenset()


@dataclass(frozen=True)
class Lookups:
    """What to load before routing an event: a person's referrals, an agreement's parties."""

    subject_id: SubjectId | None = None
    agreement_id: AgreementId | None = None


@dataclass(frozen=True)
class Memory:
    """What to remember (or forget) after an event."""

    referrals: tuple[KnownReferral, ...] = ()
    agreement: tuple[AgreementId, frozenset[OrganisationId]] | None = None
    forget_subject: SubjectId | None = None
    forget_agreement: AgreementId | None = None


def is_notified(data: EventData) -> bool:
    """Whether events of this type are ever notified."""
    return data.ce_type in NOTIFIED_TYPES


def lookups(data: EventData) -> Lookups:
    """What `recipients` needs loaded for this event."""
    match data:
        case (
            SubjectRestrictedV1()
            | SubjectRestrictionLiftedV1()
            | SubjectErasedV1()
            | ConsentGivenV1()
            | ConsentWithdrawnV1()
        ):
            return Lookups(subject_id=data.subject_id)
        case ConsentExpiredV1():
            return Lookups(subject_id=data.subject_id)
        case AgreementTerminatedV1():
            return Lookups(agreement_id=data.agreement_id)
    return Lookups()


def recipients(data: EventData, known: Known) -> frozenset[OrganisationId]:
    """The organisations this event concerns; empty for events that are never notified."""
    if not is_notified(data):
        return frozenset()
    if isinstance(data, ReferralRedirectedV1):
        # The organisation it was taken from learns where it went.
        return frozenset(
            (
                data.from_organisation_id,
                data.to_organisation_id,
                data.redirected_from_organisation_id,
            )
        )
    if isinstance(data, ReferralEvent):
        return frozenset((data.from_organisation_id, data.to_organisation_id))
    match data:
        case DeadlineApproachingV1() | DeadlineMissedV1() | DeadlineMetV1():
            return frozenset((data.organisation_id,))
        case OrganisationRegisteredV1() | OrganisationUpdatedV1():
            return frozenset((data.organisation_id,))
        case AgreementRegisteredV1() | AgreementAmendedV1():
            return frozenset(data.parties)
        case AgreementTerminatedV1():
            return known.agreement_parties
        case SubjectRegisteredV1():
            return frozenset((data.actor.organisation_id,))
        case SubjectRestrictedV1() | SubjectRestrictionLiftedV1() | SubjectErasedV1():
            return _parties(known.referrals, open_only=False) | {data.actor.organisation_id}
        case ConsentGivenV1() | ConsentWithdrawnV1():
            return _parties(known.referrals, open_only=True) | {data.actor.organisation_id}
        case ConsentExpiredV1():
            return _parties(known.referrals, open_only=True)
    return frozenset()


def remember(data: EventData) -> Memory:
    """What this event adds to (or removes from) what the notifier remembers for routing."""
    if isinstance(data, ReferralEvent):
        known = KnownReferral(
            referral_id=data.referral_id,
            subject_id=data.subject_id,
            organisations=frozenset((data.from_organisation_id, data.to_organisation_id)),
            open=not isinstance(data, _ENDING),
        )
        return Memory(referrals=(known,))
    match data:
        case AgreementRegisteredV1() | AgreementAmendedV1():
            return Memory(agreement=(data.agreement_id, frozenset(data.parties)))
        case AgreementTerminatedV1():
            return Memory(forget_agreement=data.agreement_id)
        case SubjectErasedV1():
            # Data minimisation: once the erasure is routed, nothing more is needed.
            return Memory(forget_subject=data.subject_id)
    return Memory()


def _parties(referrals: Iterable[KnownReferral], *, open_only: bool) -> frozenset[OrganisationId]:
    return frozenset(
        organisation
        for referral in referrals
        if referral.open or not open_only
        for organisation in referral.organisations
    )
