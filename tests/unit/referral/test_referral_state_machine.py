"""Random sequences of actions by random actors on one referral: the status is always a legal
one, every success adds exactly one event of the right type and one version, every refusal is
the predicted one and changes nothing, and a closed referral accepts nothing."""

import copy
import datetime as dt

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from schemas.actors import Actor
from schemas.codes import Role, Sector
from schemas.person import ConsentGiver
from schemas.referrals import CancellationReason, ReferralCancelledV1
from services.referral.domain.consents import Consent, cancel_referrals_depending_on
from services.referral.domain.errors import (
    IllegalTransition,
    NotAllowed,
    ReferralDomainError,
    StaleVersion,
)
from services.referral.domain.referral import Referral
from services.referral.domain.status import OPEN_STATUSES, ReferralAction, ReferralStatus
from tests.unit.referral.factories import (
    CAREER_CENTRE,
    FILER,
    FOLLOW_UP_SERVICE,
    LATER,
    NAV,
    NAV_EAST,
    actor,
    consent,
    default_actor,
    filed,
    perform,
)
from tests.unit.referral.test_referral_lifecycle import ALLOWED_FROM, EVENT_OF, LEADS_TO

A = ReferralAction
ACTIONS = [action for action in ReferralAction if action is not A.FILE]
ORGANISATIONS = [FOLLOW_UP_SERVICE, NAV, CAREER_CENTRE, NAV_EAST]
ACTORS = [actor(organisation, role) for organisation in ORGANISATIONS for role in Role]
HANDLERS = {Role.COUNSELLOR, Role.COORDINATOR}
SENDERS = {Role.FILER, Role.COORDINATOR}
S = ReferralStatus
# The steps that take the work forward (and, for closed referrals, any step: all are refused).
FORWARD: dict[ReferralStatus, tuple[ReferralAction, ...]] = {
    S.SUBMITTED: (A.RECEIVE, A.RECEIVE, A.ASSIGN),
    S.REDIRECTED: (A.RECEIVE, A.RECEIVE, A.WITHDRAW),
    S.RECEIVED: (A.ACCEPT, A.ACCEPT, A.ACCEPT, A.REDIRECT, A.REJECT),
    S.ACCEPTED: (A.START, A.START, A.RECORD_CONTACT),
    S.IN_PROGRESS: (A.RECORD_FOLLOW_UP, A.COMPLETE, A.COMPLETE, A.RECORD_CONTACT),
    S.COMPLETED: (A.START, A.RECEIVE, A.CANCEL),
    S.REJECTED: (A.ACCEPT, A.REDIRECT, A.CANCEL),
    S.WITHDRAWN: (A.RECEIVE, A.CANCEL, A.WITHDRAW),
    S.CANCELLED: (A.CANCEL, A.WITHDRAW, A.COMPLETE),
}


def _may(referral: Referral, action: ReferralAction, who: Actor) -> bool:
    """Who may act, restated from the brief rather than read from the code."""
    sending = who.organisation_id == referral.from_organisation_id
    receiving = who.organisation_id == referral.to_organisation_id
    if action is A.WITHDRAW:
        return sending and who.role in SENDERS
    if action is A.ASSIGN:
        return receiving and who.role is Role.COORDINATOR
    if action is A.CANCEL:
        return (sending or receiving) and who.role is Role.ADMIN
    return receiving and who.role in HANDLERS


def _predicted(
    referral: Referral, action: ReferralAction, who: Actor, version: int
) -> type[ReferralDomainError] | None:
    if not _may(referral, action, who):
        return NotAllowed
    if version != referral.version:
        return StaleVersion
    if referral.status not in ALLOWED_FROM[action]:
        return IllegalTransition
    return None


class ReferralLifecycle(RuleBasedStateMachine):
    """One referral from the follow-up service, handled at random by anyone."""

    def __init__(self) -> None:
        super().__init__()
        self.referral: Referral
        self.consent: Consent
        self.now = LATER
        self.successes = 0

    @initialize(on_consent=st.booleans())
    def file(self, on_consent: bool) -> None:
        self.consent = consent(organisations=(NAV,), sectors=(Sector.CAREER_GUIDANCE,))
        if on_consent:
            self.referral = filed(consent=self.consent, statutory_basis=None)
        else:
            self.referral = filed()
        self.successes = 1

    @rule(
        action=st.sampled_from(ACTIONS),
        who=st.sampled_from(ACTORS),
        version_offset=st.sampled_from([0, 0, 0, -1, 1, -2]),
    )
    def anyone_tries_anything(
        self, action: ReferralAction, who: Actor, version_offset: int
    ) -> None:
        self._attempt(action, who, self.referral.version + version_offset)

    @rule(action=st.sampled_from(ACTIONS))
    def someone_who_may_tries_anything(self, action: ReferralAction) -> None:
        self._attempt(action, default_actor(self.referral, action), self.referral.version)

    @rule(choice=st.integers(min_value=0, max_value=59))
    def the_work_moves_forward(self, choice: int) -> None:
        steps = FORWARD[self.referral.status]
        action = steps[choice % len(steps)]
        self._attempt(action, default_actor(self.referral, action), self.referral.version)

    def _attempt(self, action: ReferralAction, who: Actor, version: int) -> None:
        referral = self.referral
        before = copy.deepcopy(vars(referral))
        current, status, event_count = referral.version, referral.status, len(referral.events)
        predicted = _predicted(referral, action, who, version)
        self.now += dt.timedelta(hours=1)

        if predicted is not None:
            with pytest.raises(ReferralDomainError) as refused:
                perform(referral, action, who, expected_version=version, now=self.now)
            assert type(refused.value) is predicted, f"{action} by {who.role}: {refused.value!r}"
            assert vars(referral) == before
            return
        perform(referral, action, who, expected_version=version, now=self.now)
        self.successes += 1
        assert referral.version == current + 1
        assert [type(e) for e in referral.events[event_count:]] == [EVENT_OF[action]]
        assert referral.status is (LEADS_TO[action] or status)
        event(f"reached {referral.status}")

    @rule()
    def withdraw_the_consent(self) -> None:
        if self.consent.withdrawn_at is not None:
            return
        referral = self.referral
        depends = (
            referral.is_open
            and referral.consent_id == self.consent.consent_id
            and referral.statutory_basis is None
        )
        version = referral.version
        self.now += dt.timedelta(hours=1)
        withdrawal = self.consent.withdraw(
            withdrawn_by=ConsentGiver.PERSON, actor=FILER, now=self.now
        )

        cancelled = cancel_referrals_depending_on(withdrawal, [referral])

        if depends:
            self.successes += 1
            assert cancelled == [referral]
            assert referral.status is ReferralStatus.CANCELLED
            assert referral.version == version + 1
            last = referral.events[-1]
            assert isinstance(last, ReferralCancelledV1)
            assert last.reason is CancellationReason.CONSENT_WITHDRAWN
        else:
            assert cancelled == []
            assert referral.version == version

    @precondition(lambda self: not self.referral.is_open)
    @rule()
    def a_closed_referral_accepts_nothing(self) -> None:
        referral = self.referral
        before = copy.deepcopy(vars(referral))
        for action in ACTIONS:
            try:
                perform(referral, action, default_actor(referral, action), now=self.now)
            except IllegalTransition:
                pass
            else:
                raise AssertionError(f"a {referral.status} referral accepted {action}")
        assert vars(referral) == before

    @invariant()
    def the_status_is_a_legal_one(self) -> None:
        assert self.referral.status in set(ReferralStatus)

    @invariant()
    def every_success_left_one_event_and_one_version(self) -> None:
        referral = self.referral
        assert referral.version == self.successes
        assert [entry.version for entry in referral.history] == list(range(1, referral.version + 1))
        assert [entry.event for entry in referral.history] == referral.events

    @invariant()
    def the_referral_stays_between_the_same_sender_and_organisations_the_routes_allow(
        self,
    ) -> None:
        referral = self.referral
        assert referral.from_organisation_id == FOLLOW_UP_SERVICE.organisation_id
        assert referral.to_organisation_id in {
            NAV.organisation_id,
            CAREER_CENTRE.organisation_id,
        }
        for recorded in referral.events:
            assert recorded.referral_id == referral.referral_id
            assert recorded.subject_id == referral.subject_id

    @invariant()
    def a_closed_referral_has_a_closing_time_and_an_open_one_has_none(self) -> None:
        referral = self.referral
        assert (referral.closed_at is None) == (referral.status in OPEN_STATUSES)

    @invariant()
    def an_assignee_belongs_to_the_receiver(self) -> None:
        referral = self.referral
        if referral.assigned_counsellor is not None:
            last = [e for e in referral.events if type(e) is EVENT_OF[A.ASSIGN]][-1]
            assert last.to_organisation_id == referral.to_organisation_id


ReferralLifecycle.TestCase.settings = settings(
    max_examples=200, stateful_step_count=50, deadline=None
)
test_the_referral_lifecycle_under_random_actions = ReferralLifecycle.TestCase
