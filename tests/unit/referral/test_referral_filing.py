"""Filing needs an agreement route and a legal basis: a covering consent or a statutory basis."""

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from schemas.codes import Purpose, Sector
from schemas.directory import Situation
from schemas.ids import ReferralId
from schemas.person import ConsentGiver
from schemas.referrals import ReferralSubmittedV1, StatutoryBasis
from services.referral.domain.consents import Consent
from services.referral.domain.errors import (
    ConsentDoesNotCover,
    ConsentRefusalReason,
    GuardianConsentRequired,
    NoAgreementRoute,
    NoLegalBasis,
    NoteTooLong,
    RouteRefusalCode,
)
from services.referral.domain.organisations import Organisation
from services.referral.domain.referral import Referral
from services.referral.domain.subjects import Subject
from tests.unit.referral.factories import (
    ADULT,
    CAREER_CENTRE,
    FILER,
    FOLLOW_UP_SERVICE,
    MINOR,
    NAV,
    NAV_ELSEWHERE,
    NOW,
    agreement,
    consent,
)


def _file(
    *,
    subject: Subject = ADULT,
    receiver: Organisation = NAV,
    purpose: Purpose = Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,
    given: Consent | None = None,
    statutory_basis: StatutoryBasis | None = None,
    now: dt.datetime = NOW,
    **agreement_changes: Any,
) -> Referral:
    return Referral.file(
        referral_id=ReferralId(subject.subject_id),
        subject=subject,
        sender=FOLLOW_UP_SERVICE,
        receiver=receiver,
        purpose=purpose,
        situation=Situation.OUTSIDE_SCHOOL_AND_WORK,
        agreements=[agreement(**agreement_changes)],
        consent=given,
        statutory_basis=statutory_basis,
        actor=FILER,
        now=now,
    )


def _submitted(referral: Referral) -> ReferralSubmittedV1:
    event = referral.events[-1]
    assert isinstance(event, ReferralSubmittedV1)
    return event


def test_filing_without_a_consent_or_a_statutory_basis_is_refused_for_no_legal_basis() -> None:
    with pytest.raises(NoLegalBasis, match=r"no consent .* and no statutory basis"):
        _file()


def test_filing_on_a_statutory_basis_alone_is_allowed() -> None:
    referral = _file(statutory_basis=StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE)

    assert referral.statutory_basis is StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE
    assert referral.consent_id is None


def test_filing_on_a_covering_consent_names_it_in_the_event() -> None:
    given = consent()

    referral = _file(given=given)

    assert referral.consent_id == given.consent_id
    assert _submitted(referral).consent_id == given.consent_id
    assert _submitted(referral).statutory_basis is None


def test_filing_on_a_consent_that_covers_the_receivers_sector_is_allowed() -> None:
    given = consent(organisations=(), sectors=(Sector.WORK_WELFARE,))

    assert _file(given=given).consent_id == given.consent_id


def test_a_named_consent_that_does_not_cover_the_receiver_is_refused_even_with_a_statute() -> None:
    given = consent(organisations=(CAREER_CENTRE,))

    with pytest.raises(ConsentDoesNotCover) as refused:
        _file(given=given, statutory_basis=StatutoryBasis.NAV_ACT_COOPERATION)

    assert refused.value.reason is ConsentRefusalReason.RECIPIENT_NOT_COVERED


def test_filing_on_the_consent_of_another_person_is_refused() -> None:
    with pytest.raises(ConsentDoesNotCover) as refused:
        _file(given=consent(MINOR, given_by=ConsentGiver.GUARDIAN))

    assert refused.value.reason is ConsentRefusalReason.ANOTHER_PERSON


def test_a_minors_own_consent_is_refused_for_lack_of_a_guardians() -> None:
    with pytest.raises(GuardianConsentRequired, match="under 18"):
        _file(subject=MINOR, given=consent(MINOR, given_by=ConsentGiver.PERSON))


def test_a_guardians_consent_covers_a_minor() -> None:
    given = consent(MINOR, given_by=ConsentGiver.GUARDIAN)

    assert _file(subject=MINOR, given=given).consent_id == given.consent_id


def test_an_agreement_with_a_lower_guardian_age_lets_a_sixteen_year_old_consent() -> None:
    own = consent(MINOR, given_by=ConsentGiver.PERSON)

    referral = _file(subject=MINOR, given=own, guardian_consent_below_age=16)

    assert referral.consent_id == own.consent_id


def test_filing_to_an_organisation_outside_every_agreement_is_refused_saying_why() -> None:
    with pytest.raises(NoAgreementRoute, match="no route from organisation") as refused:
        _file(receiver=NAV_ELSEWHERE, statutory_basis=StatutoryBasis.NAV_ACT_COOPERATION)

    assert [r.code for r in refused.value.refusals] == [RouteRefusalCode.NO_ROUTE]


def test_filing_for_a_purpose_the_route_does_not_allow_is_refused() -> None:
    with pytest.raises(NoAgreementRoute) as refused:
        _file(
            purpose=Purpose.CAREER_GUIDANCE,
            statutory_basis=StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE,
        )

    assert refused.value.refusals[0].code is RouteRefusalCode.PURPOSE_NOT_ALLOWED


def test_the_route_is_checked_before_the_legal_basis() -> None:
    with pytest.raises(NoAgreementRoute):
        _file(receiver=NAV_ELSEWHERE)


def test_the_day_of_filing_is_the_day_in_oslo() -> None:
    starts = dt.date(2026, 9, 15)
    late_on_the_14th_in_oslo = dt.datetime(2026, 9, 14, 21, 30, tzinfo=dt.UTC)
    early_on_the_15th_in_oslo = dt.datetime(2026, 9, 14, 22, 30, tzinfo=dt.UTC)
    basis = StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE

    with pytest.raises(NoAgreementRoute, match="applies only from 2026-09-15"):
        _file(statutory_basis=basis, now=late_on_the_14th_in_oslo, valid_from=starts)
    referral = _file(statutory_basis=basis, now=early_on_the_15th_in_oslo, valid_from=starts)

    assert referral.submitted_at == early_on_the_15th_in_oslo


def test_a_filing_note_over_the_limit_is_refused() -> None:
    with pytest.raises(NoteTooLong):
        Referral.file(
            referral_id=ReferralId(ADULT.subject_id),
            subject=ADULT,
            sender=FOLLOW_UP_SERVICE,
            receiver=NAV,
            purpose=Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,
            situation=Situation.OUTSIDE_SCHOOL_AND_WORK,
            agreements=[agreement()],
            consent=None,
            statutory_basis=StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE,
            actor=FILER,
            now=NOW,
            note="x" * 5000,
        )


def test_filing_under_an_amended_agreement_names_its_version() -> None:
    amended = replace(agreement(), version=3)

    referral = Referral.file(
        referral_id=ReferralId(ADULT.subject_id),
        subject=ADULT,
        sender=FOLLOW_UP_SERVICE,
        receiver=NAV,
        purpose=Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,
        situation=Situation.OUTSIDE_SCHOOL_AND_WORK,
        agreements=[agreement(), amended],
        consent=None,
        statutory_basis=StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE,
        actor=FILER,
        now=NOW,
    )

    assert referral.agreement_version == 3
    assert _submitted(referral).agreement_version == 3
