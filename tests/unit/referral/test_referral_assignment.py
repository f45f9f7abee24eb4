"""Assignment: a coordinator of the receiver gives a referral to one of its counsellors or
coordinators, one at a time or all of a leaving counsellor's at once."""

import copy

import pytest

from schemas.actors import Actor
from schemas.codes import Role
from schemas.referrals import Outcome, ReferralAssignedV1
from services.referral.domain.bulk import reassign
from services.referral.domain.errors import InvalidAssignee, NotAllowed
from services.referral.domain.referral import Referral
from services.referral.domain.status import ReferralStatus
from tests.unit.referral.factories import (
    COORDINATOR,
    COUNSELLOR,
    FOLLOW_UP_SERVICE,
    LATER,
    NAV,
    NAV_EAST,
    actor,
    in_status,
)

LEAVING = actor(NAV, Role.COUNSELLOR, n=7)
TAKING_OVER = actor(NAV, Role.COUNSELLOR, n=8)


def _assigned_to(status: ReferralStatus, name: str = "r") -> Referral:
    referral = in_status(status, name=name)
    referral.assign(COORDINATOR, LEAVING, expected_version=referral.version, now=LATER)
    return referral


def test_a_coordinator_assigns_a_counsellor_of_the_receiving_organisation() -> None:
    referral = in_status(ReferralStatus.RECEIVED)

    referral.assign(COORDINATOR, COUNSELLOR, expected_version=referral.version, now=LATER)

    assert referral.assigned_counsellor == COUNSELLOR.actor_id
    assert referral.assigned_role is Role.COUNSELLOR
    event = referral.events[-1]
    assert isinstance(event, ReferralAssignedV1)
    assert event.assignee_id == COUNSELLOR.actor_id
    assert event.assignee_role is Role.COUNSELLOR
    assert event.actor == COORDINATOR


@pytest.mark.parametrize(
    ("assignee", "why"),
    [
        (actor(FOLLOW_UP_SERVICE, Role.COUNSELLOR), "not in the receiving organisation"),
        (actor(NAV, Role.FILER), "a filer does not handle referrals"),
        (actor(NAV, Role.ADMIN), "an? admin does not handle referrals"),
    ],
)
def test_a_referral_is_assigned_only_to_a_handler_of_the_receiver(
    assignee: Actor, why: str
) -> None:
    referral = in_status(ReferralStatus.ACCEPTED)
    before = copy.deepcopy(vars(referral))

    with pytest.raises(InvalidAssignee, match=why):
        referral.assign(COORDINATOR, assignee, expected_version=referral.version, now=LATER)

    assert vars(referral) == before


def test_assigning_to_the_user_who_has_it_already_is_refused() -> None:
    referral = _assigned_to(ReferralStatus.ACCEPTED)

    with pytest.raises(InvalidAssignee, match="already assigned"):
        referral.assign(COORDINATOR, LEAVING, expected_version=referral.version, now=LATER)


def test_a_counsellor_may_not_assign() -> None:
    referral = in_status(ReferralStatus.ACCEPTED)

    with pytest.raises(NotAllowed):
        referral.assign(COUNSELLOR, COUNSELLOR, expected_version=referral.version, now=LATER)


def test_bulk_reassignment_moves_every_open_referral_of_a_leaving_counsellor() -> None:
    open_ones = [
        _assigned_to(ReferralStatus.RECEIVED, name="a"),
        _assigned_to(ReferralStatus.IN_PROGRESS, name="b"),
    ]
    closed = _assigned_to(ReferralStatus.IN_PROGRESS, name="c")
    closed.complete(COUNSELLOR, Outcome.MOVED, expected_version=closed.version, now=LATER)
    someone_elses = in_status(ReferralStatus.RECEIVED, name="d")
    closed_version, others_version = closed.version, someone_elses.version

    moved = reassign(
        [*open_ones, closed, someone_elses],
        leaving=LEAVING.actor_id,
        assignee=TAKING_OVER,
        actor=COORDINATOR,
        now=LATER,
    )

    assert moved == open_ones
    assert {r.assigned_counsellor for r in open_ones} == {TAKING_OVER.actor_id}
    assert closed.assigned_counsellor == LEAVING.actor_id
    assert (closed.version, someone_elses.version) == (closed_version, others_version)


def test_bulk_reassignment_changes_nothing_when_one_referral_cannot_be_reassigned() -> None:
    first = _assigned_to(ReferralStatus.RECEIVED, name="a")
    second = _assigned_to(ReferralStatus.ACCEPTED, name="b")
    # As if it had been loaded with another receiver: this coordinator may not assign it.
    elsewhere = _assigned_to(ReferralStatus.RECEIVED, name="c")
    elsewhere.to_organisation_id = NAV_EAST.organisation_id
    before = [copy.deepcopy(vars(r)) for r in (first, second, elsewhere)]

    with pytest.raises(NotAllowed):
        reassign(
            [first, second, elsewhere],
            leaving=LEAVING.actor_id,
            assignee=TAKING_OVER,
            actor=COORDINATOR,
            now=LATER,
        )

    assert [vars(r) for r in (first, second, elsewhere)] == before
