"""A person's consent ledger: each consent (given, withdrawn, expired), and which handoffs it
covered, from the person's consent and referral events as the log recorded them.

A handoff is a step that shares the person's data with another organisation under a legal
basis: a referral submitted, or redirected to another organisation. Each names a consent or a
statutory basis (the contract's rule: never neither). The ledger also says, for each handoff
under a consent, whether the consent was in force at that moment and covered its purpose:
the events say what was claimed, the ledger lets an auditor check it."""

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from schemas.person import ConsentExpiredV1, ConsentGivenV1, ConsentWithdrawnV1
from schemas.referrals import ReferralCancelledV1, ReferralRedirectedV1, ReferralSubmittedV1
from services.audit.domain.errors import AuditError, NoTimeline

# The event types the ledger is made of.
LEDGER_TYPES: tuple[str, ...] = tuple(
    model.ce_type
    for model in (
        ConsentGivenV1,
        ConsentWithdrawnV1,
        ConsentExpiredV1,
        ReferralSubmittedV1,
        ReferralRedirectedV1,
        ReferralCancelledV1,
    )
)


class NoLedger(NoTimeline):
    """Nothing of the person's consents or handoffs involves the caller's county (a 404 like
    a missing timeline: the ledger is part of the person's history)."""

    def __init__(self) -> None:
        AuditError.__init__(self, "no consents or handoffs of this subject in your county")


class ConsentStatus(StrEnum):
    """Where a consent stands at the moment the ledger is read."""

    IN_FORCE = "in_force"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"  # its expiry event was logged, or its expiry time has passed
    UNKNOWN = "unknown"  # handoffs name it, but the log has no event of its giving


@dataclass(frozen=True)
class LoggedEvent:
    """One of the person's events as the log has it, and whether it involves the county."""

    sequence: int
    event_id: uuid.UUID
    type: str
    data: dict[str, Any]
    in_county: bool


@dataclass(frozen=True)
class Handoff:
    """A referral step that shared the person's data, and its legal basis."""

    sequence: int
    event_id: uuid.UUID
    step: str  # submitted or redirected
    referral_id: uuid.UUID
    from_organisation_id: uuid.UUID
    to_organisation_id: uuid.UUID
    agreement_id: uuid.UUID
    agreement_version: int
    purpose: str
    consent_id: uuid.UUID | None
    statutory_basis: str | None
    occurred_at: dt.datetime
    in_county: bool


@dataclass(frozen=True)
class CoveredHandoff:
    """A handoff under a consent, and whether the consent allowed it when it happened."""

    handoff: Handoff
    # Given before the handoff, not withdrawn or expired by then; None: the giving is unknown.
    in_force: bool | None
    # The handoff's purpose is one the consent names; None: the giving is unknown.
    purpose_covered: bool | None


@dataclass
class Consent:
    """One consent as its events tell it."""

    consent_id: uuid.UUID
    given: ConsentGivenV1 | None = None
    given_sequence: int | None = None
    withdrawn: ConsentWithdrawnV1 | None = None
    expired: ConsentExpiredV1 | None = None
    handoffs: list[Handoff] = field(default_factory=list)
    cancelled_referral_ids: list[uuid.UUID] = field(default_factory=list)
    # Whether any of its own events (given, withdrawn, expired) involves the county.
    in_county: bool = False

    def status(self, now: dt.datetime) -> ConsentStatus:
        if self.given is None:
            return ConsentStatus.UNKNOWN
        if self.withdrawn is not None:
            return ConsentStatus.WITHDRAWN
        if self.expired is not None or self.given.expires_at <= now:
            return ConsentStatus.EXPIRED
        return ConsentStatus.IN_FORCE

    def ends_at(self) -> dt.datetime | None:
        """When it stopped (or stops) covering anything: the first of withdrawal, expiry event
        and expiry time; None when its giving is unknown."""
        if self.given is None:
            return None
        ends = [self.given.expires_at]
        ends += [e.occurred_at for e in (self.withdrawn, self.expired) if e is not None]
        return min(ends)

    def covered(self, handoff: Handoff) -> CoveredHandoff:
        ends = self.ends_at()
        if self.given is None or ends is None:
            return CoveredHandoff(handoff, None, None)
        in_force = self.given.occurred_at <= handoff.occurred_at < ends
        purposes = {purpose.value for purpose in self.given.purposes}
        return CoveredHandoff(handoff, in_force, handoff.purpose in purposes)


@dataclass(frozen=True)
class Ledger:
    """What the caller's county may see of one person's consents and handoffs."""

    consents: list[Consent]
    # Handoffs made on a statutory basis, without consent.
    statutory_handoffs: list[Handoff]

    @property
    def empty(self) -> bool:
        return not self.consents and not self.statutory_handoffs


def build_ledger(events: Iterable[LoggedEvent]) -> Ledger:
    """Fold the person's events (in sequence order) into their ledger, keeping what involves
    the county: a consent whose own events or covered handoffs do, and of those handoffs only
    the ones that do (another county's handoffs are not this county's to see)."""
    consents: dict[uuid.UUID, Consent] = {}
    statutory: list[Handoff] = []

    def consent(consent_id: uuid.UUID) -> Consent:
        return consents.setdefault(consent_id, Consent(consent_id))

    for event in events:
        match event.type:
            case ConsentGivenV1.ce_type:
                given = ConsentGivenV1.model_validate(event.data)
                found = consent(given.consent_id)
                found.given, found.given_sequence = given, event.sequence
                found.in_county |= event.in_county
            case ConsentWithdrawnV1.ce_type:
                withdrawn = ConsentWithdrawnV1.model_validate(event.data)
                found = consent(withdrawn.consent_id)
                found.withdrawn = found.withdrawn or withdrawn
                found.in_county |= event.in_county
            case ConsentExpiredV1.ce_type:
                expired = ConsentExpiredV1.model_validate(event.data)
                found = consent(expired.consent_id)
                found.expired = found.expired or expired
                found.in_county |= event.in_county
            case ReferralSubmittedV1.ce_type | ReferralRedirectedV1.ce_type:
                handoff = _handoff(event)
                if handoff.consent_id is not None:
                    consent(handoff.consent_id).handoffs.append(handoff)
                elif handoff.in_county:
                    statutory.append(handoff)
            case ReferralCancelledV1.ce_type:
                cancelled = ReferralCancelledV1.model_validate(event.data)
                if cancelled.consent_id is not None and event.in_county:
                    consent(cancelled.consent_id).cancelled_referral_ids.append(
                        cancelled.referral_id
                    )
    shown = []
    for found in consents.values():
        in_county = [handoff for handoff in found.handoffs if handoff.in_county]
        if found.in_county or in_county or found.cancelled_referral_ids:
            found.handoffs = in_county
            shown.append(found)
    return Ledger(consents=shown, statutory_handoffs=statutory)


def _handoff(event: LoggedEvent) -> Handoff:
    data: ReferralSubmittedV1 | ReferralRedirectedV1
    if event.type == ReferralSubmittedV1.ce_type:
        data = ReferralSubmittedV1.model_validate(event.data)
    else:
        data = ReferralRedirectedV1.model_validate(event.data)
    return Handoff(
        sequence=event.sequence,
        event_id=event.event_id,
        step=event.type.split(".")[3],
        referral_id=data.referral_id,
        from_organisation_id=data.from_organisation_id,
        to_organisation_id=data.to_organisation_id,
        agreement_id=data.agreement_id,
        agreement_version=data.agreement_version,
        purpose=data.purpose.value,
        consent_id=data.consent_id,
        statutory_basis=None if data.statutory_basis is None else data.statutory_basis.value,
        occurred_at=data.occurred_at,
        in_county=event.in_county,
    )
