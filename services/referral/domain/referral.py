"""The referral: a handoff of a person from one organisation to another, and its lifecycle.

    submitted ──► received ──► accepted ──► in_progress ──► completed(outcome)
        │            ├──► rejected(reason)
        │            └──► redirected ──► received (by the new receiver)
        └──► withdrawn (by the sender: from submitted, redirected or received)
    any open status ──► cancelled (consent withdrawn / person erased / duplicate)

Every method checks, in this order, that the actor's organisation and role may act (NotAllowed),
that the caller saw the current version (StaleVersion), that the action is possible from the
current status (IllegalTransition), and then the action's own rules. A refused action changes
nothing; a successful one bumps `version` by one, appends one entry to `history` and one event
(the matching `schemas.referrals` model) to `events`, which the store drains into its outbox."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from schemas.actors import Actor
from schemas.codes import Purpose, Role
from schemas.directory import Situation
from schemas.ids import (
    ActorId,
    AgreementId,
    ConsentId,
    ContactId,
    FollowUpId,
    OrganisationId,
    ReferralId,
    SubjectId,
)
from schemas.person import ConsentWithdrawnV1, SubjectErasedV1
from schemas.referrals import (
    CancellationReason,
    ContactMethod,
    ContactResult,
    Outcome,
    RedirectionReason,
    ReferralAcceptedV1,
    ReferralAssignedV1,
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
    RejectionReason,
    StatutoryBasis,
    WithdrawalReason,
)
from services.plumbing.working_days import oslo_date
from services.referral.domain.agreements import Agreement
from services.referral.domain.consents import Consent
from services.referral.domain.errors import (
    IllegalTransition,
    InvalidAssignee,
    NotAllowed,
    RedirectToCurrentReceiver,
    StaleVersion,
)
from services.referral.domain.handoff import check_handoff
from services.referral.domain.organisations import Organisation
from services.referral.domain.permissions import ASSIGNABLE_ROLES, check_permission
from services.referral.domain.records import (
    Contact,
    FollowUp,
    HistoryEntry,
    check_note,
)
from services.referral.domain.status import (
    OPEN_STATUSES,
    TRANSITIONS,
    ReferralAction,
    ReferralStatus,
)
from services.referral.domain.subjects import Subject


@dataclass(eq=False, kw_only=True)
class Referral:
    """A handoff of one person from a sending to a receiving organisation under an agreement."""

    referral_id: ReferralId
    subject_id: SubjectId
    from_organisation_id: OrganisationId
    to_organisation_id: OrganisationId  # the current receiver; a redirection changes it
    purpose: Purpose
    situation: Situation
    agreement_id: AgreementId
    agreement_version: int
    consent_id: ConsentId | None
    statutory_basis: StatutoryBasis | None
    status: ReferralStatus
    version: int
    submitted_at: dt.datetime
    addressed_at: dt.datetime  # when it was sent to its current receiver: filed or redirected
    received_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    assigned_counsellor: ActorId | None = None
    assigned_role: Role | None = None
    rejection_reason: RejectionReason | None = None
    withdrawal_reason: WithdrawalReason | None = None
    cancellation_reason: CancellationReason | None = None
    outcome: Outcome | None = None
    # Since when a deadline of the agreement was missed, as the audit service reported it; for
    # the worklists only: no rule here reads it, and saving never writes it.
    overdue_since: dt.datetime | None = None
    contacts: list[Contact] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    events: list[ReferralEvent] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        """Whether anything can still happen to it."""
        return self.status in OPEN_STATUSES

    @classmethod
    def file(
        cls,
        *,
        referral_id: ReferralId,
        subject: Subject,
        sender: Organisation,
        receiver: Organisation,
        purpose: Purpose,
        situation: Situation,
        agreements: Iterable[Agreement],
        consent: Consent | None,
        statutory_basis: StatutoryBasis | None,
        actor: Actor,
        now: dt.datetime,
        note: str | None = None,
    ) -> "Referral":
        """File a referral: it needs an agreement route and a legal basis; records
        ReferralSubmittedV1."""
        oslo_date(now)  # refuses a naive time
        check_note(note)
        check_permission(
            ReferralAction.FILE,
            actor,
            sender=sender.organisation_id,
            receiver=receiver.organisation_id,
        )
        handoff = check_handoff(
            agreements=agreements,
            sender=sender,
            receiver=receiver,
            purpose=purpose,
            situation=situation,
            subject=subject,
            consent=consent,
            statutory_basis=statutory_basis,
            now=now,
        )
        agreement, basis = handoff.agreement, handoff.basis
        event = ReferralSubmittedV1(
            referral_id=referral_id,
            subject_id=subject.subject_id,
            from_organisation_id=sender.organisation_id,
            to_organisation_id=receiver.organisation_id,
            actor=actor,
            occurred_at=now,
            agreement_id=agreement.agreement_id,
            agreement_version=agreement.version,
            purpose=purpose,
            consent_id=basis.consent_id,
            statutory_basis=basis.statutory_basis,
        )
        referral = cls(
            referral_id=referral_id,
            subject_id=subject.subject_id,
            from_organisation_id=sender.organisation_id,
            to_organisation_id=receiver.organisation_id,
            purpose=purpose,
            situation=situation,
            agreement_id=agreement.agreement_id,
            agreement_version=agreement.version,
            consent_id=basis.consent_id,
            statutory_basis=basis.statutory_basis,
            status=ReferralStatus.SUBMITTED,
            version=0,
            submitted_at=now,
            addressed_at=now,
        )
        referral._record(event, ReferralStatus.SUBMITTED, note)
        return referral

    def receive(self, actor: Actor, *, expected_version: int, now: dt.datetime) -> None:
        """The receiver acknowledges the referral; records ReferralReceivedV1."""
        to_status = self._check(ReferralAction.RECEIVE, actor, expected_version, now)
        event = ReferralReceivedV1(**self._step(actor, now))
        self.received_at = now
        self._record(event, to_status)

    def accept(self, actor: Actor, *, expected_version: int, now: dt.datetime) -> None:
        """The receiver takes the referral on; records ReferralAcceptedV1."""
        to_status = self._check(ReferralAction.ACCEPT, actor, expected_version, now)
        event = ReferralAcceptedV1(**self._step(actor, now))
        self.accepted_at = now
        self._record(event, to_status)

    def reject(
        self,
        actor: Actor,
        reason: RejectionReason,
        *,
        expected_version: int,
        now: dt.datetime,
        note: str | None = None,
    ) -> None:
        """The receiver declines the referral with a coded reason; records ReferralRejectedV1."""
        to_status = self._check(ReferralAction.REJECT, actor, expected_version, now, note)
        event = ReferralRejectedV1(**self._step(actor, now), reason=reason)
        self.rejection_reason = reason
        self.closed_at = now
        self._record(event, to_status, note)

    def redirect(
        self,
        actor: Actor,
        *,
        to: Organisation,
        current_receiver: Organisation,
        reason: RedirectionReason,
        subject: Subject,
        agreements: Iterable[Agreement],
        consent: Consent | None,
        statutory_basis: StatutoryBasis | None,
        expected_version: int,
        now: dt.datetime,
        note: str | None = None,
    ) -> None:
        """The receiver sends the referral on to another organisation that an agreement route
        from the receiver allows, with a legal basis for the new recipient; records
        ReferralRedirectedV1.

        The new organisation becomes the receiver and must acknowledge (receive) it again; the
        assignment is cleared (it named a user of the previous receiver) and the history stays.
        The sender is unchanged."""
        to_status = self._check(ReferralAction.REDIRECT, actor, expected_version, now, note)
        if current_receiver.organisation_id != self.to_organisation_id:
            raise ValueError("current_receiver is not the organisation the referral is with")
        if subject.subject_id != self.subject_id:
            raise ValueError("the subject is not the person referred")
        if to.organisation_id == self.to_organisation_id:
            raise RedirectToCurrentReceiver()
        handoff = check_handoff(
            agreements=agreements,
            sender=current_receiver,
            receiver=to,
            purpose=self.purpose,
            situation=self.situation,
            subject=subject,
            consent=consent,
            statutory_basis=statutory_basis,
            now=now,
        )
        agreement, basis = handoff.agreement, handoff.basis
        event = ReferralRedirectedV1(
            **(self._step(actor, now) | {"to_organisation_id": to.organisation_id}),
            redirected_from_organisation_id=self.to_organisation_id,
            reason=reason,
            agreement_id=agreement.agreement_id,
            agreement_version=agreement.version,
            purpose=self.purpose,
            consent_id=basis.consent_id,
            statutory_basis=basis.statutory_basis,
        )
        self.to_organisation_id = to.organisation_id
        self.agreement_id = agreement.agreement_id
        self.agreement_version = agreement.version
        self.consent_id = basis.consent_id
        self.statutory_basis = basis.statutory_basis
        self.addressed_at = now
        self.received_at = None
        self.assigned_counsellor = None
        self.assigned_role = None
        self._record(event, to_status, note)

    def withdraw(
        self,
        actor: Actor,
        reason: WithdrawalReason,
        *,
        expected_version: int,
        now: dt.datetime,
        note: str | None = None,
    ) -> None:
        """The sender takes the referral back before it is accepted; records
        ReferralWithdrawnV1."""
        to_status = self._check(ReferralAction.WITHDRAW, actor, expected_version, now, note)
        event = ReferralWithdrawnV1(**self._step(actor, now), reason=reason)
        self.withdrawal_reason = reason
        self.closed_at = now
        self._record(event, to_status, note)

    def start(self, actor: Actor, *, expected_version: int, now: dt.datetime) -> None:
        """Work on the accepted referral begins; records ReferralStartedV1."""
        to_status = self._check(ReferralAction.START, actor, expected_version, now)
        event = ReferralStartedV1(**self._step(actor, now))
        self.started_at = now
        self._record(event, to_status)

    def record_contact(
        self,
        actor: Actor,
        *,
        contact_id: ContactId,
        method: ContactMethod,
        result: ContactResult,
        expected_version: int,
        now: dt.datetime,
        note: str | None = None,
    ) -> None:
        """A contact with the person, or an attempt, on an accepted referral or one in progress;
        records ReferralContactRecordedV1."""
        to_status = self._check(ReferralAction.RECORD_CONTACT, actor, expected_version, now, note)
        event = ReferralContactRecordedV1(
            **self._step(actor, now), contact_id=contact_id, method=method, result=result
        )
        self.contacts.append(Contact(contact_id, method, result, now, actor.actor_id))
        self._record(event, to_status, note)

    def record_follow_up(
        self,
        actor: Actor,
        *,
        follow_up_id: FollowUpId,
        method: ContactMethod,
        expected_version: int,
        now: dt.datetime,
        note: str | None = None,
    ) -> None:
        """A follow-up of the person on a referral in progress; records
        ReferralFollowUpRecordedV1."""
        to_status = self._check(ReferralAction.RECORD_FOLLOW_UP, actor, expected_version, now, note)
        event = ReferralFollowUpRecordedV1(
            **self._step(actor, now), follow_up_id=follow_up_id, method=method
        )
        self.follow_ups.append(FollowUp(follow_up_id, method, now, actor.actor_id))
        self._record(event, to_status, note)

    def complete(
        self,
        actor: Actor,
        outcome: Outcome,
        *,
        expected_version: int,
        now: dt.datetime,
        note: str | None = None,
    ) -> None:
        """The referral in progress ends with a coded outcome; records ReferralCompletedV1."""
        to_status = self._check(ReferralAction.COMPLETE, actor, expected_version, now, note)
        event = ReferralCompletedV1(**self._step(actor, now), outcome=outcome)
        self.outcome = outcome
        self.closed_at = now
        self._record(event, to_status, note)

    def assign(
        self, actor: Actor, assignee: Actor, *, expected_version: int, now: dt.datetime
    ) -> None:
        """A coordinator of the receiver gives the referral to one of its counsellors or
        coordinators; records ReferralAssignedV1."""
        to_status = self._check(ReferralAction.ASSIGN, actor, expected_version, now)
        self.check_assignee(assignee)
        event = ReferralAssignedV1(
            **self._step(actor, now), assignee_id=assignee.actor_id, assignee_role=assignee.role
        )
        self.assigned_counsellor = assignee.actor_id
        self.assigned_role = assignee.role
        self._record(event, to_status)

    def check_assignee(self, assignee: Actor) -> None:
        """Raise InvalidAssignee unless the user can be given this referral."""
        if assignee.organisation_id != self.to_organisation_id:
            raise InvalidAssignee("the user is not in the receiving organisation")
        if assignee.role not in ASSIGNABLE_ROLES:
            raise InvalidAssignee(
                f"a {assignee.role.value} does not handle referrals; "
                "assign a counsellor or coordinator"
            )
        if assignee.actor_id == self.assigned_counsellor:
            raise InvalidAssignee("it is already assigned to that user")

    def cancel(
        self,
        actor: Actor,
        reason: CancellationReason,
        *,
        expected_version: int,
        now: dt.datetime,
        note: str | None = None,
    ) -> None:
        """An administrator of either organisation cancels an open referral (a duplicate, or a
        person erased); records ReferralCancelledV1. Withdrawn consent cancels through
        `cancel_for_withdrawn_consent`, which names the consent."""
        to_status = self._check(ReferralAction.CANCEL, actor, expected_version, now, note)
        if reason is CancellationReason.CONSENT_WITHDRAWN:
            raise NotAllowed(
                action=ReferralAction.CANCEL,
                role=actor.role,
                why="a referral is cancelled for withdrawn consent by withdrawing that consent",
            )
        event = ReferralCancelledV1(**self._step(actor, now), reason=reason)
        self._cancelled(event, to_status, note)

    def cancel_for_withdrawn_consent(self, withdrawal: ConsentWithdrawnV1) -> None:
        """The system cancels the referral because the consent it rests on was withdrawn; the
        withdrawal was authorised on its own, so its actor and time are the cancellation's.
        Records ReferralCancelledV1 with reason consent_withdrawn."""
        if (
            withdrawal.subject_id != self.subject_id
            or withdrawal.consent_id != self.consent_id
            or self.statutory_basis is not None
        ):
            raise ValueError("the referral does not rest on the withdrawn consent alone")
        to_status = self._check_transition(ReferralAction.CANCEL)
        event = ReferralCancelledV1(
            **self._step(withdrawal.actor, withdrawal.occurred_at),
            reason=CancellationReason.CONSENT_WITHDRAWN,
            consent_id=withdrawal.consent_id,
        )
        self._cancelled(event, to_status)

    def cancel_for_erasure(self, erasure: SubjectErasedV1) -> None:
        """The system cancels the open referral of a person whose data was erased; records
        ReferralCancelledV1 with reason subject_erased."""
        if erasure.subject_id != self.subject_id:
            raise ValueError("the erasure is of another person")
        to_status = self._check_transition(ReferralAction.CANCEL)
        event = ReferralCancelledV1(
            **self._step(erasure.actor, erasure.occurred_at),
            reason=CancellationReason.SUBJECT_ERASED,
        )
        self._cancelled(event, to_status)

    def drain_events(self) -> list[ReferralEvent]:
        """The events recorded since the last drain, for the outbox; forgets them here."""
        drained, self.events = self.events, []
        return drained

    def _cancelled(
        self, event: ReferralCancelledV1, to_status: ReferralStatus, note: str | None = None
    ) -> None:
        self.cancellation_reason = event.reason
        self.closed_at = event.occurred_at
        self._record(event, to_status, note)

    def _check(
        self,
        action: ReferralAction,
        actor: Actor,
        expected_version: int,
        now: dt.datetime,
        note: str | None = None,
    ) -> ReferralStatus:
        """Every check an action by a user needs; returns the status it leads to."""
        oslo_date(now)  # refuses a naive time
        check_note(note)
        check_permission(
            action, actor, sender=self.from_organisation_id, receiver=self.to_organisation_id
        )
        if expected_version != self.version:
            raise StaleVersion(expected=expected_version, actual=self.version)
        return self._check_transition(action)

    def _check_transition(self, action: ReferralAction) -> ReferralStatus:
        transition = TRANSITIONS[action]
        if self.status not in transition.from_statuses:
            raise IllegalTransition(status=self.status, action=action)
        return self.status if transition.to_status is None else transition.to_status

    def _step(self, actor: Actor, now: dt.datetime) -> dict[str, Any]:
        """The fields every referral event has."""
        return {
            "referral_id": self.referral_id,
            "subject_id": self.subject_id,
            "from_organisation_id": self.from_organisation_id,
            "to_organisation_id": self.to_organisation_id,
            "actor": actor,
            "occurred_at": now,
        }

    def _record(
        self, event: ReferralEvent, to_status: ReferralStatus, note: str | None = None
    ) -> None:
        """The only place a referral changes status and version; called after every check."""
        self.status = to_status
        self.version += 1
        self.history.append(HistoryEntry(self.version, event, note))
        self.events.append(event)
