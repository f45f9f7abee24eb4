"""Route matching: which agreement, if any, allows a referral, and why the others do not."""

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

import pytest

from schemas.codes import Purpose, Role
from schemas.directory import (
    AgreementAmendedV1,
    AgreementTerminatedV1,
    LinkageLevel,
    Situation,
    TargetGroup,
    TerminationReason,
)
from schemas.examples import example_of
from schemas.ids import AgreementId
from services.referral.domain.agreements import Agreement, find_route, recipients
from services.referral.domain.errors import NoAgreementRoute, RouteRefusalCode
from services.referral.domain.organisations import Organisation
from tests.unit.referral.factories import (
    CAREER_CENTRE,
    FOLLOW_UP_SERVICE,
    NAV,
    NAV_EAST,
    NAV_ELSEWHERE,
    NOW,
    ORGANISATIONS,
    SCHOOL,
    actor,
    agreement,
)

TODAY = dt.date(2026, 9, 14)


def _find(
    agreements: list[Agreement],
    *,
    sender: Organisation = FOLLOW_UP_SERVICE,
    receiver: Organisation = NAV,
    purpose: Purpose = Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,
    age: int = 18,
    situation: Situation = Situation.OUTSIDE_SCHOOL_AND_WORK,
    on: dt.date = TODAY,
) -> Agreement:
    return find_route(
        agreements,
        sender=sender,
        receiver=receiver,
        purpose=purpose,
        age=age,
        situation=situation,
        on=on,
    ).agreement


def _refusal(agreements: list[Agreement], **kwargs: Any) -> NoAgreementRoute:
    with pytest.raises(NoAgreementRoute) as refused:
        _find(agreements, **kwargs)
    return refused.value


def test_a_route_between_types_of_parties_allows_a_referral() -> None:
    match = find_route(
        [agreement()],
        sender=FOLLOW_UP_SERVICE,
        receiver=NAV,
        purpose=Purpose.WORK_ORIENTED_MEASURE,
        age=18,
        situation=Situation.LEFT_UPPER_SECONDARY,
        on=TODAY,
    )

    assert match.agreement.agreement_id == agreement().agreement_id
    assert Purpose.WORK_ORIENTED_MEASURE in match.route.purposes


def test_a_route_from_a_type_to_a_named_organisation_allows_a_referral() -> None:
    assert _find([agreement()], sender=NAV, receiver=CAREER_CENTRE).version == 1


def test_a_route_by_type_leads_only_to_parties_of_the_agreement() -> None:
    refused = _refusal([agreement()], receiver=NAV_ELSEWHERE)

    assert refused.refusals[0].code is RouteRefusalCode.NO_ROUTE
    assert str(NAV_ELSEWHERE.organisation_id) in str(refused)


def test_a_route_leads_one_way_only() -> None:
    refused = _refusal([agreement()], sender=NAV, receiver=FOLLOW_UP_SERVICE)

    assert refused.refusals[0].code is RouteRefusalCode.NO_ROUTE


def test_an_expired_agreement_allows_nothing() -> None:
    refused = _refusal([agreement()], on=dt.date(2030, 8, 1))

    assert refused.refusals[0].code is RouteRefusalCode.NOT_IN_FORCE
    assert "it ended on 2030-07-31" in str(refused)


def test_an_agreement_applies_on_its_first_and_last_day() -> None:
    assert _find([agreement()], on=dt.date(2026, 8, 1)).version == 1
    assert _find([agreement()], on=dt.date(2030, 7, 31)).version == 1


def test_an_agreement_not_yet_in_force_allows_nothing() -> None:
    refused = _refusal([agreement()], on=dt.date(2026, 7, 31))

    assert "it applies only from 2026-08-01" in str(refused)


def test_a_terminated_agreement_ends_on_the_termination_day() -> None:
    ended = agreement().terminated(
        AgreementTerminatedV1(
            agreement_id=agreement().agreement_id,
            version=1,
            ends_on=dt.date(2026, 12, 31),
            reason=TerminationReason.ENDED_BY_PARTIES,
            actor=actor(NAV, Role.ADMIN),
            occurred_at=NOW,
        )
    )

    assert _find([ended], on=dt.date(2026, 12, 31)).valid_until == dt.date(2026, 12, 31)
    assert _refusal([ended], on=dt.date(2027, 1, 1)).refusals[0].code is (
        RouteRefusalCode.NOT_IN_FORCE
    )


def test_a_communication_level_agreement_shares_information_but_allows_no_referral() -> None:
    refused = _refusal([agreement(linkage_level=LinkageLevel.COMMUNICATION)])

    assert refused.refusals[0].code is RouteRefusalCode.INFORMATION_ONLY
    assert "allows no referrals" in str(refused)


def test_a_coordination_level_agreement_allows_referrals() -> None:
    coordination = agreement(
        linkage_level=LinkageLevel.COORDINATION, lead_organisation_id=NAV.organisation_id
    )

    assert _find([coordination]).linkage_level is LinkageLevel.COORDINATION


def test_a_purpose_the_route_does_not_name_is_refused_saying_which_it_allows() -> None:
    refused = _refusal([agreement()], purpose=Purpose.PRIOR_LEARNING_ASSESSMENT)

    assert refused.refusals[0].code is RouteRefusalCode.PURPOSE_NOT_ALLOWED
    assert "prior_learning_assessment" in str(refused)
    assert "follow_up_outside_school_and_work, work_oriented_measure" in str(refused)


@pytest.mark.parametrize("age", [14, 25, 40])
def test_an_age_outside_every_target_group_is_refused(age: int) -> None:
    refused = _refusal([agreement()], age=age)

    assert refused.refusals[0].code is RouteRefusalCode.AGE_OUTSIDE_TARGET_GROUPS
    assert "ages 15 to 24" in str(refused)
    assert str(age) not in str(refused).replace("15 to 24", "")


@pytest.mark.parametrize("age", [15, 24])
def test_the_ends_of_a_target_groups_age_range_are_in_it(age: int) -> None:
    assert _find([agreement()], age=age).version == 1


def test_a_situation_outside_the_target_groups_is_refused() -> None:
    refused = _refusal([agreement()], situation=Situation.UNEMPLOYED)

    assert refused.refusals[0].code is RouteRefusalCode.SITUATION_OUTSIDE_TARGET_GROUPS


def test_age_and_situation_must_fit_the_same_target_group() -> None:
    split = agreement(
        target_groups=(
            TargetGroup(min_age=15, max_age=19, situations=[Situation.OUTSIDE_SCHOOL_AND_WORK]),
            TargetGroup(min_age=20, max_age=24, situations=[Situation.UNEMPLOYED]),
        )
    )

    assert _find([split], age=22, situation=Situation.UNEMPLOYED).version == 1
    assert _refusal([split], age=22).refusals[0].code is (
        RouteRefusalCode.SITUATION_OUTSIDE_TARGET_GROUPS
    )


def test_without_any_agreement_the_refusal_says_so() -> None:
    refused = _refusal([])

    assert refused.refusals[0].code is RouteRefusalCode.NO_AGREEMENT


def test_an_organisation_cannot_refer_to_itself() -> None:
    refused = _refusal([agreement()], sender=NAV, receiver=NAV)

    assert refused.refusals[0].code is RouteRefusalCode.SAME_ORGANISATION


def test_each_agreement_that_refuses_says_why() -> None:
    other = AgreementId(uuid.UUID(int=1))
    refused = _refusal(
        [
            agreement(valid_until=dt.date(2026, 9, 1)),
            agreement(agreement_id=other, linkage_level=LinkageLevel.COMMUNICATION),
        ]
    )

    assert {r.code for r in refused.refusals} == {
        RouteRefusalCode.NOT_IN_FORCE,
        RouteRefusalCode.INFORMATION_ONLY,
    }
    assert str(other) in str(refused)
    assert str(agreement().agreement_id) in str(refused)


def test_only_the_latest_version_of_an_agreement_counts() -> None:
    first = agreement()
    second = replace(first, version=2, linkage_level=LinkageLevel.COMMUNICATION)

    refused = _refusal([second, first])

    assert [r.agreement_version for r in refused.refusals] == [2]


def test_when_several_agreements_allow_it_the_one_in_force_latest_wins() -> None:
    older = agreement()
    newer = agreement(agreement_id=AgreementId(uuid.UUID(int=2)), valid_from=dt.date(2026, 9, 1))

    assert _find([newer, older]).agreement_id == newer.agreement_id
    assert _find([older, newer]).agreement_id == newer.agreement_id


def test_an_agreement_is_read_from_its_event_with_the_guardian_age_it_names() -> None:
    amended = example_of(AgreementAmendedV1)

    read = Agreement.from_event(amended)

    assert read.version == 2
    assert read.guardian_consent_below_age == 16
    assert read.lead_organisation_id == amended.lead_organisation_id
    assert read.parties == frozenset(amended.parties)
    assert agreement().guardian_consent_below_age == 18


def test_a_school_that_signed_has_no_route_the_agreement_does_not_name() -> None:
    assert _refusal([agreement()], sender=SCHOOL).refusals[0].code is RouteRefusalCode.NO_ROUTE


def test_the_recipients_are_the_ends_of_the_senders_routes_with_their_purposes() -> None:
    found = recipients([agreement()], sender=FOLLOW_UP_SERVICE, parties=ORGANISATIONS, on=TODAY)

    both = {Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK, Purpose.WORK_ORIENTED_MEASURE}
    # Every NAV office that signed; not the one elsewhere, not the school, not itself.
    assert found == {NAV.organisation_id: both, NAV_EAST.organisation_id: both}


def test_a_nav_office_may_refer_to_the_career_centre_only() -> None:
    found = recipients([agreement()], sender=NAV, parties=ORGANISATIONS, on=TODAY)

    assert found == {
        CAREER_CENTRE.organisation_id: {
            Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,
            Purpose.CAREER_GUIDANCE,
        }
    }


@pytest.mark.parametrize(
    "changes",
    [
        {"valid_until": dt.date(2026, 9, 1)},  # ended before the day
        {"valid_from": dt.date(2026, 10, 1)},  # not yet in force
        {"linkage_level": LinkageLevel.COMMUNICATION},  # shares information, no referrals
    ],
)
def test_an_agreement_not_in_force_or_without_referrals_gives_no_recipients(
    changes: dict[str, Any],
) -> None:
    found = recipients(
        [agreement(**changes)], sender=FOLLOW_UP_SERVICE, parties=ORGANISATIONS, on=TODAY
    )

    assert found == {}
