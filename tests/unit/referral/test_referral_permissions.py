"""Who may do what: every action, by every role, of the sending, the receiving and another
organisation."""

import copy
import itertools

import pytest

from schemas.codes import Purpose, Role
from schemas.directory import Situation
from schemas.ids import ReferralId
from schemas.referrals import StatutoryBasis
from services.referral.domain.errors import IllegalTransition, NotAllowed, StaleVersion
from services.referral.domain.organisations import Organisation
from services.referral.domain.referral import Referral
from services.referral.domain.status import ReferralAction, ReferralStatus
from tests.unit.referral.factories import (
    ADULT,
    FOLLOW_UP_SERVICE,
    NAV,
    NAV_EAST,
    NOW,
    actor,
    agreement,
    in_status,
    perform,
)

A = ReferralAction
S = ReferralStatus
SENDING, RECEIVING, OTHER = "sending", "receiving", "other"
PARTIES: dict[str, Organisation] = {SENDING: FOLLOW_UP_SERVICE, RECEIVING: NAV, OTHER: NAV_EAST}
HANDLERS = {(RECEIVING, Role.COUNSELLOR), (RECEIVING, Role.COORDINATOR)}
# Written out here, not read from the code.
MAY: dict[ReferralAction, set[tuple[str, Role]]] = {
    A.RECEIVE: HANDLERS,
    A.ACCEPT: HANDLERS,
    A.REJECT: HANDLERS,
    A.REDIRECT: HANDLERS,
    A.START: HANDLERS,
    A.RECORD_CONTACT: HANDLERS,
    A.RECORD_FOLLOW_UP: HANDLERS,
    A.COMPLETE: HANDLERS,
    A.WITHDRAW: {(SENDING, Role.FILER), (SENDING, Role.COORDINATOR)},
    A.ASSIGN: {(RECEIVING, Role.COORDINATOR)},
    A.CANCEL: {(SENDING, Role.ADMIN), (RECEIVING, Role.ADMIN)},
}
# A status each action is possible from.
FROM: dict[ReferralAction, ReferralStatus] = {
    A.RECEIVE: S.SUBMITTED,
    A.ACCEPT: S.RECEIVED,
    A.REJECT: S.RECEIVED,
    A.REDIRECT: S.RECEIVED,
    A.START: S.ACCEPTED,
    A.RECORD_CONTACT: S.ACCEPTED,
    A.RECORD_FOLLOW_UP: S.IN_PROGRESS,
    A.COMPLETE: S.IN_PROGRESS,
    A.WITHDRAW: S.SUBMITTED,
    A.ASSIGN: S.RECEIVED,
    A.CANCEL: S.ACCEPTED,
}
CELLS = [
    (action, party, role) for action in MAY for party, role in itertools.product(PARTIES, Role)
]


@pytest.mark.parametrize(("action", "party", "role"), CELLS, ids=lambda cell: str(cell))
def test_only_the_allowed_roles_of_the_right_organisation_may_act(
    action: ReferralAction, party: str, role: Role
) -> None:
    referral = in_status(FROM[action])
    before = copy.deepcopy(vars(referral))
    version = referral.version
    who = actor(PARTIES[party], role)

    if (party, role) in MAY[action]:
        perform(referral, action, who)

        assert referral.version == version + 1
    else:
        with pytest.raises(NotAllowed) as refused:
            perform(referral, action, who)

        assert refused.value.action is action
        assert refused.value.role is role
        assert vars(referral) == before


@pytest.mark.parametrize(("party", "role"), list(itertools.product(PARTIES, Role)))
def test_only_a_filer_or_coordinator_of_the_sending_organisation_may_file(
    party: str, role: Role
) -> None:
    def file() -> Referral:
        return Referral.file(
            referral_id=ReferralId(ADULT.subject_id),
            subject=ADULT,
            sender=FOLLOW_UP_SERVICE,
            receiver=NAV,
            purpose=Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,
            situation=Situation.OUTSIDE_SCHOOL_AND_WORK,
            agreements=[agreement()],
            consent=None,
            statutory_basis=StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE,
            actor=actor(PARTIES[party], role),
            now=NOW,
        )

    if (party, role) in {(SENDING, Role.FILER), (SENDING, Role.COORDINATOR)}:
        assert file().version == 1
    else:
        with pytest.raises(NotAllowed, match="only a coordinator or filer of the sending"):
            file()


def test_an_auditor_may_do_nothing_to_a_referral() -> None:
    for action, status in FROM.items():
        for organisation in PARTIES.values():
            with pytest.raises(NotAllowed):
                perform(in_status(status), action, actor(organisation, Role.AUDITOR))


def test_not_allowed_comes_before_a_stale_version_and_an_illegal_transition() -> None:
    referral = in_status(S.COMPLETED)
    outsider = actor(NAV_EAST, Role.COUNSELLOR)

    with pytest.raises(NotAllowed):
        perform(referral, A.ACCEPT, outsider, expected_version=1)
    with pytest.raises(StaleVersion):
        perform(referral, A.ACCEPT, expected_version=1)
    with pytest.raises(IllegalTransition):
        perform(referral, A.ACCEPT)
