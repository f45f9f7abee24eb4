"""Consents to share a person's referral: who gave it, for which purposes and recipients, until
when; whether one covers a referral; and what withdrawing one cancels."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from schemas.actors import Actor
from schemas.codes import Purpose, Sector
from schemas.ids import ConsentId, OrganisationId, SubjectId
from schemas.person import CollectionMethod, ConsentGivenV1, ConsentGiver, ConsentWithdrawnV1
from services.plumbing.working_days import oslo_date
from services.referral.domain.errors import (
    ConsentAlreadyWithdrawn,
    ConsentDoesNotCover,
    ConsentRefusalReason,
    GuardianConsentRequired,
    InvalidConsent,
)
from services.referral.domain.organisations import Organisation
from services.referral.domain.subjects import Subject

if TYPE_CHECKING:
    from services.referral.domain.referral import Referral

ConsentEvent = ConsentGivenV1 | ConsentWithdrawnV1


@dataclass(eq=False, kw_only=True)
class Consent:
    """A person's (or their guardian's) consent to share for some purposes with some recipients."""

    consent_id: ConsentId
    subject_id: SubjectId
    given_by: ConsentGiver
    purposes: frozenset[Purpose]
    recipient_organisation_ids: frozenset[OrganisationId]
    recipient_sectors: frozenset[Sector]
    given_at: dt.datetime
    expires_at: dt.datetime
    collection_method: CollectionMethod
    withdrawn_at: dt.datetime | None = None
    withdrawn_by: ConsentGiver | None = None
    # The organisation that wrote it down; None for consents recorded before this was kept.
    recorded_by: OrganisationId | None = None
    events: list[ConsentEvent] = field(default_factory=list)

    @classmethod
    def give(
        cls,
        *,
        consent_id: ConsentId,
        subject_id: SubjectId,
        given_by: ConsentGiver,
        purposes: Iterable[Purpose],
        recipient_organisation_ids: Iterable[OrganisationId] = (),
        recipient_sectors: Iterable[Sector] = (),
        expires_at: dt.datetime,
        collection_method: CollectionMethod,
        actor: Actor,
        now: dt.datetime,
    ) -> "Consent":
        """Record a consent; it records ConsentGivenV1."""
        consent = cls(
            consent_id=consent_id,
            subject_id=subject_id,
            given_by=given_by,
            purposes=frozenset(purposes),
            recipient_organisation_ids=frozenset(recipient_organisation_ids),
            recipient_sectors=frozenset(recipient_sectors),
            given_at=now,
            expires_at=expires_at,
            collection_method=collection_method,
            recorded_by=actor.organisation_id,
        )
        if not consent.purposes:
            raise InvalidConsent("it names no purpose")
        if not consent.recipient_organisation_ids and not consent.recipient_sectors:
            raise InvalidConsent("it names no recipient organisation or sector")
        if expires_at <= now:
            raise InvalidConsent("it expires before it is given")
        consent.events.append(
            ConsentGivenV1(
                subject_id=subject_id,
                consent_id=consent_id,
                given_by=given_by,
                purposes=sorted(consent.purposes),
                recipient_organisation_ids=sorted(consent.recipient_organisation_ids, key=str),
                recipient_sectors=sorted(consent.recipient_sectors),
                expires_at=expires_at,
                collection_method=collection_method,
                actor=actor,
                occurred_at=now,
            )
        )
        return consent

    @classmethod
    def from_event(cls, event: ConsentGivenV1) -> "Consent":
        """The consent as its ConsentGivenV1 event describes it."""
        return cls(
            consent_id=event.consent_id,
            subject_id=event.subject_id,
            given_by=event.given_by,
            purposes=frozenset(event.purposes),
            recipient_organisation_ids=frozenset(event.recipient_organisation_ids),
            recipient_sectors=frozenset(event.recipient_sectors),
            given_at=event.occurred_at,
            expires_at=event.expires_at,
            collection_method=event.collection_method,
        )

    def is_withdrawn_at(self, at: dt.datetime) -> bool:
        """Whether it had been withdrawn at an instant."""
        return self.withdrawn_at is not None and self.withdrawn_at <= at

    def refusal(
        self, recipient: Organisation, purpose: Purpose, at: dt.datetime
    ) -> ConsentRefusalReason | None:
        """Why it does not cover sharing with the recipient for the purpose at an instant."""
        if self.is_withdrawn_at(at):
            return ConsentRefusalReason.WITHDRAWN
        if at < self.given_at:
            return ConsentRefusalReason.NOT_YET_GIVEN
        if at >= self.expires_at:
            return ConsentRefusalReason.EXPIRED
        if (
            recipient.organisation_id not in self.recipient_organisation_ids
            and recipient.sector not in self.recipient_sectors
        ):
            return ConsentRefusalReason.RECIPIENT_NOT_COVERED
        if purpose not in self.purposes:
            return ConsentRefusalReason.PURPOSE_NOT_COVERED
        return None

    def covers(self, recipient: Organisation, purpose: Purpose, at: dt.datetime) -> bool:
        """Whether it covers sharing with the recipient (by id or by its sector) for the purpose."""
        return self.refusal(recipient, purpose, at) is None

    def check_covers(
        self,
        *,
        subject: Subject,
        recipient: Organisation,
        purpose: Purpose,
        guardian_consent_below_age: int,
        at: dt.datetime,
    ) -> None:
        """Raise unless it covers this person, recipient and purpose at the instant, given by
        the right person under the agreement's guardian-consent age."""
        reason = (
            ConsentRefusalReason.ANOTHER_PERSON
            if subject.subject_id != self.subject_id
            else self.refusal(recipient, purpose, at)
        )
        if reason is not None:
            raise ConsentDoesNotCover(consent_id=self.consent_id, reason=reason)
        self.check_given_by(
            subject=subject, guardian_consent_below_age=guardian_consent_below_age, at=at
        )

    def check_given_by(
        self, *, subject: Subject, guardian_consent_below_age: int, at: dt.datetime
    ) -> None:
        """The guardian rule: under the agreement's age a guardian consents, and a guardian's
        consent stops counting once the person is old enough to consent themselves."""
        if (
            self.given_by is ConsentGiver.PERSON
            and subject.age_on(oslo_date(self.given_at)) < guardian_consent_below_age
        ):
            raise GuardianConsentRequired(
                consent_id=self.consent_id, below_age=guardian_consent_below_age
            )
        if (
            self.given_by is ConsentGiver.GUARDIAN
            and subject.age_on(oslo_date(at)) >= guardian_consent_below_age
        ):
            raise ConsentDoesNotCover(
                consent_id=self.consent_id,
                reason=ConsentRefusalReason.GUARDIAN_FOR_PERSON_OF_AGE,
            )

    def withdraw(
        self, *, withdrawn_by: ConsentGiver, actor: Actor, now: dt.datetime
    ) -> ConsentWithdrawnV1:
        """Withdraw it from now on; returns (and records) ConsentWithdrawnV1."""
        if self.withdrawn_at is not None:
            raise ConsentAlreadyWithdrawn(self.consent_id)
        event = ConsentWithdrawnV1(
            subject_id=self.subject_id,
            consent_id=self.consent_id,
            withdrawn_by=withdrawn_by,
            actor=actor,
            occurred_at=now,
        )
        self.withdrawn_at = now
        self.withdrawn_by = withdrawn_by
        self.events.append(event)
        return event


def referrals_depending_on(
    consent_id: ConsentId, referrals: Iterable["Referral"]
) -> list["Referral"]:
    """The open referrals whose only legal basis is this consent.

    A referral that also has a statutory basis keeps that basis and does not depend on it."""
    return [
        referral
        for referral in referrals
        if referral.is_open
        and referral.consent_id == consent_id
        and referral.statutory_basis is None
    ]


def cancel_referrals_depending_on(
    withdrawal: ConsentWithdrawnV1, referrals: Iterable["Referral"]
) -> list["Referral"]:
    """Cancel (reason consent_withdrawn) every open referral that depends on the withdrawn
    consent; each records ReferralCancelledV1. Returns the cancelled referrals."""
    dependent = [
        referral
        for referral in referrals_depending_on(withdrawal.consent_id, referrals)
        if referral.subject_id == withdrawal.subject_id
    ]
    for referral in dependent:
        referral.cancel_for_withdrawn_consent(withdrawal)
    return dependent
