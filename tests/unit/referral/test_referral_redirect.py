"""Redirection: the receiver sends a received referral on to an organisation that an agreement
route from the receiver allows; the new receiver acknowledges it again; the history stays."""

import copy

import pytest

from schemas.codes import Role, Sector
from schemas.referrals import (
    RedirectionReason,
    ReferralRedirectedV1,
    ReferralSubmittedV1,
    StatutoryBasis,
    WithdrawalReason,
)
from services.referral.domain.consents import Consent
from services.referral.domain.errors import (
    ConsentDoesNotCover,
    NoAgreementRoute,
    NoLegalBasis,
    NotAllowed,
    RedirectToCurrentReceiver,
    RouteRefusalCode,
)
from services.referral.domain.organisations import Organisation
from services.referral.domain.referral import Referral
from services.referral.domain.status import ReferralAction, ReferralStatus
from tests.unit.referral.factories import (
    ADULT,
    CAREER_CENTRE,
    CAREER_COUNSELLOR,
    COORDINATOR,
    COUNSELLOR,
    FILER,
    FOLLOW_UP_SERVICE,
    LATER,
    NAV,
    NAV_EAST,
    actor,
    agreement,
    consent,
    in_status,
    perform,
)


def _redirect(
    referral: Referral,
    to: Organisation = CAREER_CENTRE,
    *,
    given: Consent | None = None,
    statutory_basis: StatutoryBasis | None = StatutoryBasis.PUBLIC_ADMINISTRATION_ACT_13B_5,
) -> None:
    referral.redirect(
        COUNSELLOR,
        to=to,
        current_receiver=NAV,
        reason=RedirectionReason.BETTER_PLACED_ELSEWHERE,
        subject=ADULT,
        agreements=[agreement()],
        consent=given,
        statutory_basis=statutory_basis,
        expected_version=referral.version,
        now=LATER,
    )


def test_redirecting_makes_the_new_organisation_the_receiver_and_keeps_the_history() -> None:
    referral = in_status(ReferralStatus.RECEIVED)
    perform(referral, ReferralAction.ASSIGN)

    _redirect(referral)

    assert referral.status is ReferralStatus.REDIRECTED
    assert referral.from_organisation_id == FOLLOW_UP_SERVICE.organisation_id
    assert referral.to_organisation_id == CAREER_CENTRE.organisation_id
    assert referral.assigned_counsellor is None
    assert referral.received_at is None
    assert referral.addressed_at == LATER
    assert referral.statutory_basis is StatutoryBasis.PUBLIC_ADMINISTRATION_ACT_13B_5
    event = referral.events[-1]
    assert isinstance(event, ReferralRedirectedV1)
    assert event.redirected_from_organisation_id == NAV.organisation_id
    assert event.to_organisation_id == CAREER_CENTRE.organisation_id
    assert event.reason is RedirectionReason.BETTER_PLACED_ELSEWHERE
    assert [entry.version for entry in referral.history] == [1, 2, 3, 4]
    assert isinstance(referral.history[0].event, ReferralSubmittedV1)
    assert referral.history[0].event.to_organisation_id == NAV.organisation_id


def test_only_the_new_receiver_may_receive_a_redirected_referral() -> None:
    referral = in_status(ReferralStatus.REDIRECTED)

    with pytest.raises(NotAllowed):
        referral.receive(COUNSELLOR, expected_version=referral.version, now=LATER)
    referral.receive(CAREER_COUNSELLOR, expected_version=referral.version, now=LATER)

    assert referral.status is ReferralStatus.RECEIVED
    assert referral.received_at == LATER


def test_the_new_receiver_may_send_it_back_where_a_route_allows() -> None:
    referral = in_status(ReferralStatus.REDIRECTED)
    referral.receive(CAREER_COUNSELLOR, expected_version=referral.version, now=LATER)

    perform(referral, ReferralAction.REDIRECT, CAREER_COUNSELLOR)

    assert referral.to_organisation_id == NAV.organisation_id
    assert referral.status is ReferralStatus.REDIRECTED


def test_the_sender_may_withdraw_a_redirected_referral_before_acceptance() -> None:
    referral = in_status(ReferralStatus.REDIRECTED)

    referral.withdraw(
        FILER, WithdrawalReason.NO_LONGER_NEEDED, expected_version=referral.version, now=LATER
    )

    assert referral.status is ReferralStatus.WITHDRAWN


def test_redirecting_to_the_current_receiver_is_refused() -> None:
    referral = in_status(ReferralStatus.RECEIVED)

    with pytest.raises(RedirectToCurrentReceiver):
        _redirect(referral, NAV)


def test_redirecting_where_no_route_leads_from_the_receiver_is_refused_and_changes_nothing() -> (
    None
):
    referral = in_status(ReferralStatus.RECEIVED)
    before = copy.deepcopy(vars(referral))

    with pytest.raises(NoAgreementRoute) as refused:
        _redirect(referral, NAV_EAST)

    assert refused.value.refusals[0].code is RouteRefusalCode.NO_ROUTE
    assert vars(referral) == before


def test_redirecting_needs_a_legal_basis_for_the_new_recipient() -> None:
    referral = in_status(ReferralStatus.RECEIVED)
    before = copy.deepcopy(vars(referral))

    with pytest.raises(NoLegalBasis):
        _redirect(referral, statutory_basis=None)
    with pytest.raises(ConsentDoesNotCover):
        _redirect(referral, given=consent(organisations=(NAV,)), statutory_basis=None)
    assert vars(referral) == before


def test_a_consent_that_covers_the_new_recipients_sector_carries_the_redirection() -> None:
    given = consent(organisations=(NAV,), sectors=(Sector.CAREER_GUIDANCE,))
    referral = in_status(ReferralStatus.RECEIVED, consent=given, statutory_basis=None)

    _redirect(referral, given=given, statutory_basis=None)

    assert referral.consent_id == given.consent_id
    assert referral.statutory_basis is None


def test_a_coordinator_of_the_receiver_may_redirect_but_not_one_of_the_sender() -> None:
    referral = in_status(ReferralStatus.RECEIVED)

    with pytest.raises(NotAllowed):
        perform(referral, ReferralAction.REDIRECT, actor(FOLLOW_UP_SERVICE, Role.COORDINATOR))
    perform(referral, ReferralAction.REDIRECT, COORDINATOR)

    assert referral.status is ReferralStatus.REDIRECTED
