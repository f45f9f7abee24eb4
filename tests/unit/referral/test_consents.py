"""Consent: what it covers, the guardian rule, and what withdrawing it cancels."""

import datetime as dt
from typing import Any

import pytest

from schemas.codes import Purpose, Sector
from schemas.examples import example_of
from schemas.person import CollectionMethod, ConsentGivenV1, ConsentGiver, ConsentWithdrawnV1
from schemas.referrals import (
    CancellationReason,
    RedirectionReason,
    ReferralCancelledV1,
    StatutoryBasis,
)
from services.referral.domain.consents import (
    Consent,
    cancel_referrals_depending_on,
    referrals_depending_on,
)
from services.referral.domain.errors import (
    ConsentAlreadyWithdrawn,
    ConsentDoesNotCover,
    ConsentRefusalReason,
    GuardianConsentRequired,
    InvalidConsent,
)
from services.referral.domain.referral import Referral
from services.referral.domain.status import ReferralAction, ReferralStatus
from tests.unit.referral.factories import (
    ADULT,
    CAREER_CENTRE,
    COUNSELLOR,
    FILER,
    MINOR,
    NAV,
    NAV_EAST,
    NOW,
    agreement,
    consent,
    in_status,
    perform,
)

FOLLOW_UP = Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK
WITHDRAWN_AT = NOW + dt.timedelta(days=10)


def _withdrawal(given: Consent) -> ConsentWithdrawnV1:
    return given.withdraw(withdrawn_by=ConsentGiver.PERSON, actor=FILER, now=WITHDRAWN_AT)


def test_a_consent_covers_a_recipient_it_names() -> None:
    assert consent(organisations=(NAV,)).covers(NAV, FOLLOW_UP, NOW)


def test_a_consent_covers_every_organisation_of_a_sector_it_names() -> None:
    given = consent(organisations=(), sectors=(Sector.WORK_WELFARE,))

    assert given.covers(NAV, FOLLOW_UP, NOW)
    assert given.covers(NAV_EAST, FOLLOW_UP, NOW)
    assert given.refusal(CAREER_CENTRE, FOLLOW_UP, NOW) is (
        ConsentRefusalReason.RECIPIENT_NOT_COVERED
    )


def test_a_consent_covers_only_its_purposes() -> None:
    refusal = consent().refusal(NAV, Purpose.CAREER_GUIDANCE, NOW)

    assert refusal is ConsentRefusalReason.PURPOSE_NOT_COVERED


def test_a_consent_covers_nothing_from_the_moment_it_expires() -> None:
    given = consent(expires_at=NOW + dt.timedelta(days=1))

    assert given.covers(NAV, FOLLOW_UP, NOW + dt.timedelta(days=1) - dt.timedelta(seconds=1))
    assert given.refusal(NAV, FOLLOW_UP, NOW + dt.timedelta(days=1)) is (
        ConsentRefusalReason.EXPIRED
    )


def test_a_consent_covers_nothing_before_it_was_given() -> None:
    refusal = consent(given_at=NOW).refusal(NAV, FOLLOW_UP, NOW - dt.timedelta(seconds=1))

    assert refusal is ConsentRefusalReason.NOT_YET_GIVEN


def test_a_withdrawn_consent_covers_nothing_from_the_withdrawal_on() -> None:
    given = consent()
    _withdrawal(given)

    assert given.covers(NAV, FOLLOW_UP, WITHDRAWN_AT - dt.timedelta(seconds=1))
    assert given.refusal(NAV, FOLLOW_UP, WITHDRAWN_AT) is ConsentRefusalReason.WITHDRAWN


def test_withdrawing_returns_and_records_the_withdrawal_event() -> None:
    given = consent()

    event = given.withdraw(withdrawn_by=ConsentGiver.GUARDIAN, actor=FILER, now=WITHDRAWN_AT)

    assert isinstance(event, ConsentWithdrawnV1)
    assert (event.consent_id, event.subject_id) == (given.consent_id, given.subject_id)
    assert event.withdrawn_by is ConsentGiver.GUARDIAN
    assert event.occurred_at == WITHDRAWN_AT
    assert given.events[-1] is event
    assert given.withdrawn_at == WITHDRAWN_AT


def test_a_consent_is_withdrawn_once() -> None:
    given = consent()
    _withdrawal(given)

    with pytest.raises(ConsentAlreadyWithdrawn):
        _withdrawal(given)
    assert len(given.events) == 2


def test_giving_a_consent_records_the_given_event() -> None:
    given = consent(sectors=(Sector.CAREER_GUIDANCE,))

    [event] = given.events
    assert isinstance(event, ConsentGivenV1)
    assert event.recipient_organisation_ids == [NAV.organisation_id]
    assert event.recipient_sectors == [Sector.CAREER_GUIDANCE]
    assert event.purposes == [FOLLOW_UP]


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"organisations": (), "sectors": ()}, "no recipient"),
        ({"purposes": ()}, "no purpose"),
        ({"expires_at": NOW - dt.timedelta(days=2)}, "expires before it is given"),
    ],
)
def test_a_consent_without_a_recipient_a_purpose_or_a_future_expiry_is_refused(
    changes: dict[str, Any], why: str
) -> None:
    with pytest.raises(InvalidConsent, match=why):
        consent(**changes)


def test_a_consent_is_read_from_its_event() -> None:
    event = example_of(ConsentGivenV1)

    read = Consent.from_event(event)

    assert read.consent_id == event.consent_id
    assert read.given_at == event.occurred_at
    assert read.recipient_sectors == frozenset(event.recipient_sectors)
    assert read.collection_method is CollectionMethod.DIGITAL_ID_PORTEN


def test_under_the_agreements_age_a_person_cannot_consent_alone() -> None:
    own = consent(MINOR, given_by=ConsentGiver.PERSON)

    with pytest.raises(GuardianConsentRequired) as refused:
        own.check_given_by(subject=MINOR, guardian_consent_below_age=18, at=NOW)

    assert refused.value.below_age == 18
    own.check_given_by(subject=MINOR, guardian_consent_below_age=16, at=NOW)


def test_a_consent_the_person_gave_while_under_age_stays_invalid_after_coming_of_age() -> None:
    own = consent(MINOR, given_by=ConsentGiver.PERSON, expires_at=NOW + dt.timedelta(days=999))

    with pytest.raises(GuardianConsentRequired):
        own.check_given_by(subject=MINOR, guardian_consent_below_age=18, at=NOW.replace(2028))


def test_a_guardians_consent_lapses_when_the_person_comes_of_age() -> None:
    guardians = consent(MINOR, given_by=ConsentGiver.GUARDIAN)
    day_before = dt.datetime(2027, 12, 31, 12, tzinfo=dt.UTC)
    birthday = dt.datetime(2028, 1, 1, 12, tzinfo=dt.UTC)

    guardians.check_given_by(subject=MINOR, guardian_consent_below_age=18, at=day_before)
    with pytest.raises(ConsentDoesNotCover) as refused:
        guardians.check_given_by(subject=MINOR, guardian_consent_below_age=18, at=birthday)

    assert refused.value.reason is ConsentRefusalReason.GUARDIAN_FOR_PERSON_OF_AGE


def test_an_adults_own_consent_needs_no_guardian() -> None:
    consent(ADULT).check_given_by(subject=ADULT, guardian_consent_below_age=18, at=NOW)


def _redirected_on(given: Consent, name: str) -> Referral:
    referral = in_status(ReferralStatus.RECEIVED, consent=given, statutory_basis=None, name=name)
    referral.redirect(
        COUNSELLOR,
        to=CAREER_CENTRE,
        current_receiver=NAV,
        reason=RedirectionReason.SUBJECT_MOVED,
        subject=ADULT,
        agreements=[agreement()],
        consent=given,
        statutory_basis=None,
        expected_version=referral.version,
        now=NOW,
    )
    return referral


def test_withdrawal_cancels_exactly_the_open_referrals_that_rest_on_the_consent_alone() -> None:
    given = consent(sectors=(Sector.CAREER_GUIDANCE,))
    other = consent(name="other")
    dependent = [
        in_status(ReferralStatus.SUBMITTED, consent=given, statutory_basis=None, name="a"),
        in_status(ReferralStatus.IN_PROGRESS, consent=given, statutory_basis=None, name="b"),
        _redirected_on(given, "c"),
    ]
    also_on_a_statute = in_status(
        ReferralStatus.ACCEPTED,
        consent=given,
        statutory_basis=StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE,
        name="d",
    )
    on_another_consent = in_status(
        ReferralStatus.ACCEPTED, consent=other, statutory_basis=None, name="e"
    )
    closed = in_status(ReferralStatus.COMPLETED, consent=given, statutory_basis=None, name="f")
    everything = [*dependent, also_on_a_statute, on_another_consent, closed]
    versions = {r.referral_id: r.version for r in everything}

    assert referrals_depending_on(given.consent_id, everything) == dependent
    withdrawal = _withdrawal(given)
    cancelled = cancel_referrals_depending_on(withdrawal, everything)

    assert cancelled == dependent
    for referral in dependent:
        assert referral.status is ReferralStatus.CANCELLED
        assert referral.version == versions[referral.referral_id] + 1
        event = referral.events[-1]
        assert isinstance(event, ReferralCancelledV1)
        assert event.reason is CancellationReason.CONSENT_WITHDRAWN
        assert event.consent_id == given.consent_id
        assert event.actor == withdrawal.actor
        assert event.occurred_at == WITHDRAWN_AT
        assert event.to_organisation_id == referral.to_organisation_id
    for referral in (also_on_a_statute, on_another_consent, closed):
        assert referral.version == versions[referral.referral_id]


def test_a_referral_that_does_not_rest_on_a_consent_is_not_cancelled_for_its_withdrawal() -> None:
    referral = in_status(
        ReferralStatus.ACCEPTED, consent=consent(name="other"), statutory_basis=None
    )

    with pytest.raises(ValueError, match="does not rest on"):
        referral.cancel_for_withdrawn_consent(_withdrawal(consent()))


def test_a_dependent_referral_may_still_be_handled_until_the_withdrawal() -> None:
    given = consent()
    referral = in_status(ReferralStatus.ACCEPTED, consent=given, statutory_basis=None)

    perform(referral, ReferralAction.START)

    assert referral.status is ReferralStatus.IN_PROGRESS


def test_a_referral_that_also_rests_on_a_statute_is_not_cancelled_for_the_consent() -> None:
    given = consent()
    referral = in_status(
        ReferralStatus.ACCEPTED,
        consent=given,
        statutory_basis=StatutoryBasis.NAV_ACT_COOPERATION,
    )

    with pytest.raises(ValueError, match="alone"):
        referral.cancel_for_withdrawn_consent(_withdrawal(given))
    assert referral.status is ReferralStatus.ACCEPTED
