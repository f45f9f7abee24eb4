"""Routing: every event reaches the organisations it concerns and no one else."""

import uuid

import pytest

from schemas.access import PersonalDataAccessedV1
from schemas.actors import Actor
from schemas.codes import Role
from schemas.deadlines import DeadlineApproachingV1, DeadlineMissedV1
from schemas.directory import (
    AgreementRegisteredV1,
    AgreementTerminatedV1,
    OrganisationUpdatedV1,
)
from schemas.envelope import EventData
from schemas.examples import example_of
from schemas.ids import ActorId, OrganisationId, ReferralId, SubjectId
from schemas.inbound import PupilLeftSchoolV1
from schemas.notifications import NotificationDeliveredV1
from schemas.person import (
    ConsentExpiredV1,
    ConsentWithdrawnV1,
    SubjectErasedV1,
    SubjectRegisteredV1,
)
from schemas.referrals import (
    ReferralAcceptedV1,
    ReferralCompletedV1,
    ReferralRedirectedV1,
    ReferralSubmittedV1,
)
from schemas.registry import MODELS
from services.notifier.domain.routing import (
    NOTIFIED_TYPES,
    Known,
    KnownReferral,
    Lookups,
    lookups,
    recipients,
    remember,
)

SENDER = OrganisationId(uuid.uuid4())
RECEIVER = OrganisationId(uuid.uuid4())
ELSEWHERE = OrganisationId(uuid.uuid4())
OTHER = OrganisationId(uuid.uuid4())
SUBJECT = SubjectId(uuid.uuid4())


def _actor(organisation: OrganisationId) -> Actor:
    return Actor(actor_id=ActorId(uuid.uuid4()), organisation_id=organisation, role=Role.ADMIN)


def _referral(model: type[EventData], **changes: object) -> EventData:
    return example_of(model).model_copy(
        update={
            "subject_id": SUBJECT,
            "from_organisation_id": SENDER,
            "to_organisation_id": RECEIVER,
            "actor": _actor(RECEIVER),
            **changes,
        }
    )


def test_a_referral_event_goes_to_its_sender_and_receiver_only() -> None:
    for model in (ReferralSubmittedV1, ReferralAcceptedV1, ReferralCompletedV1):
        assert recipients(_referral(model), Known()) == {SENDER, RECEIVER}


def test_a_redirection_also_goes_to_the_receiver_it_was_taken_from() -> None:
    event = _referral(
        ReferralRedirectedV1, to_organisation_id=ELSEWHERE, redirected_from_organisation_id=RECEIVER
    )
    assert recipients(event, Known()) == {SENDER, RECEIVER, ELSEWHERE}


def test_a_deadline_goes_to_the_organisation_that_must_meet_it() -> None:
    for model in (DeadlineApproachingV1, DeadlineMissedV1):
        event = example_of(model).model_copy(update={"organisation_id": RECEIVER})
        assert recipients(event, Known()) == {RECEIVER}


def test_an_agreement_goes_to_its_parties_and_its_termination_to_the_parties_remembered() -> None:
    registered = example_of(AgreementRegisteredV1).model_copy(
        update={"parties": [SENDER, RECEIVER]}
    )
    assert recipients(registered, Known()) == {SENDER, RECEIVER}
    memory = remember(registered)
    assert memory.agreement == (registered.agreement_id, frozenset({SENDER, RECEIVER}))

    terminated = example_of(AgreementTerminatedV1).model_copy(
        update={"agreement_id": registered.agreement_id}
    )
    assert lookups(terminated) == Lookups(agreement_id=registered.agreement_id)
    known = Known(agreement_parties=frozenset({SENDER, RECEIVER}))
    assert recipients(terminated, known) == {SENDER, RECEIVER}
    assert recipients(terminated, Known()) == frozenset()
    assert remember(terminated).forget_agreement == registered.agreement_id


def test_an_organisation_event_goes_to_that_organisation() -> None:
    event = example_of(OrganisationUpdatedV1).model_copy(update={"organisation_id": OTHER})
    assert recipients(event, Known()) == {OTHER}


def test_consent_events_go_to_the_parties_of_the_persons_open_referrals() -> None:
    open_one = KnownReferral(ReferralId(uuid.uuid4()), SUBJECT, frozenset({SENDER, RECEIVER}), True)
    closed = KnownReferral(ReferralId(uuid.uuid4()), SUBJECT, frozenset({OTHER}), False)
    known = Known(referrals=(open_one, closed))
    withdrawn = example_of(ConsentWithdrawnV1).model_copy(
        update={"subject_id": SUBJECT, "actor": _actor(SENDER)}
    )
    assert lookups(withdrawn) == Lookups(subject_id=SUBJECT)
    assert recipients(withdrawn, known) == {SENDER, RECEIVER}
    expired = example_of(ConsentExpiredV1).model_copy(update={"subject_id": SUBJECT})
    assert recipients(expired, known) == {SENDER, RECEIVER}
    assert recipients(expired, Known()) == frozenset()


def test_an_erasure_goes_to_every_referral_party_and_is_then_forgotten() -> None:
    open_one = KnownReferral(ReferralId(uuid.uuid4()), SUBJECT, frozenset({SENDER}), True)
    closed = KnownReferral(ReferralId(uuid.uuid4()), SUBJECT, frozenset({OTHER}), False)
    erased = example_of(SubjectErasedV1).model_copy(
        update={"subject_id": SUBJECT, "actor": _actor(RECEIVER)}
    )
    assert recipients(erased, Known(referrals=(open_one, closed))) == {SENDER, OTHER, RECEIVER}
    assert remember(erased).forget_subject == SUBJECT


def test_a_registration_goes_to_the_registering_organisation_only() -> None:
    event = example_of(SubjectRegisteredV1).model_copy(update={"actor": _actor(SENDER)})
    assert recipients(event, Known()) == {SENDER}


def test_referral_events_are_remembered_with_their_parties_and_whether_they_are_open() -> None:
    submitted = remember(_referral(ReferralSubmittedV1))
    completed = remember(_referral(ReferralCompletedV1))
    assert [r.open for r in submitted.referrals] == [True]
    assert [r.open for r in completed.referrals] == [False]
    assert submitted.referrals[0].organisations == {SENDER, RECEIVER}


@pytest.mark.parametrize(
    "model", [NotificationDeliveredV1, PersonalDataAccessedV1, PupilLeftSchoolV1]
)
def test_notifications_accesses_and_inbound_records_are_never_notified(
    model: type[EventData],
) -> None:
    assert model.ce_type not in NOTIFIED_TYPES
    assert recipients(example_of(model), Known()) == frozenset()


@pytest.mark.parametrize("model", [m for m in MODELS if m.ce_type in NOTIFIED_TYPES])
def test_every_notified_event_reaches_only_organisations_it_names_or_that_were_remembered(
    model: type[EventData],
) -> None:
    """Whatever the event, nobody outside what it names and what was remembered is told."""
    event = example_of(model)
    remembered = Known(
        referrals=(KnownReferral(ReferralId(uuid.uuid4()), SUBJECT, frozenset({SENDER}), True),),
        agreement_parties=frozenset({RECEIVER}),
    )
    named = {
        value
        for value in _ids_in(event.model_dump())
        if isinstance(value, uuid.UUID) or _is_uuid(value)
    }
    allowed = {str(o) for o in named} | {str(SENDER), str(RECEIVER)}
    assert {str(o) for o in recipients(event, remembered)} <= allowed
    assert OTHER not in recipients(event, remembered)


def _ids_in(value: object) -> list[object]:
    if isinstance(value, dict):
        return [item for inner in value.values() for item in _ids_in(inner)]
    if isinstance(value, list):
        return [item for inner in value for item in _ids_in(inner)]
    return [value]


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
