"""Inbound reports that a pupil left upper secondary school, from the schools' administration
systems: the pupil is registered as a subject (the identity number is pseudonymised at the
door: from here on only the subject_id travels) and referred from the school to the county's
follow-up service (oppfølgingstjenesten) on the Education Act's statutory basis.

- Who files: the school's administration system, as a filer of the school. Its actor id is
  a uuid5 of the event's CloudEvents `source` in the namespace SCHOOL_SYSTEMS: the same system
  is the same actor in every referral it files and in the audit trail.
- Where to: the follow-up service that an agreement route from the school allows for the
  purpose follow_up_outside_school_and_work and the situation left_upper_secondary, with the
  person's age (from the birth date; never from the number) in a target group, on today's
  Norwegian date. Exactly one: when several would do, no choice is made for the school.
- What cannot be handled as it is raises a SchoolLeaverRefused: the consumer sends it to the
  dead-letter topic at once, with the reason (which never names the person, their number or
  birth date). Nothing of it is kept: the registration is undone with the rest.
- Once: the inbox makes a report have its effect once however often it comes. A different
  report about a person who has an open referral for follow-up (from any school, wherever it
  is now) files nothing more: the follow-up service already has them. Once that referral is
  closed, a new report files a new one."""

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence

from schemas.actors import Actor
from schemas.codes import OrganisationType, Purpose, Role
from schemas.directory import AnOrganisation, Situation
from schemas.envelope import CloudEvent, EventData
from schemas.ids import ActorId, OrganisationId, ReferralId
from schemas.inbound import PupilLeftSchoolV1
from schemas.referrals import StatutoryBasis
from services.plumbing.consumer import Unprocessable
from services.plumbing.database import Connection
from services.plumbing.working_days import oslo_date
from services.referral.crypto import StoreKeys
from services.referral.domain.agreements import Agreement, find_route
from services.referral.domain.errors import (
    InvalidIdentityNumber,
    NoAgreementRoute,
    ReferralDomainError,
    RouteRefusal,
)
from services.referral.domain.identity import parse_identity_number
from services.referral.domain.organisations import Organisation
from services.referral.domain.referral import Referral
from services.referral.store import agreements, organisations, school_leavers, subjects
from services.referral.store import referrals as store
from services.referral.store.errors import NotFound

log = logging.getLogger(__name__)

PURPOSE = Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK
SITUATION = Situation.LEFT_UPPER_SECONDARY
STATUTORY_BASIS = StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE
# The namespace of the actor ids of school administration systems (uuid5 of their source).
SCHOOL_SYSTEMS = uuid.uuid5(uuid.NAMESPACE_URL, "https://overgang.no/actors/school-systems")


class SchoolLeaverRefused(Unprocessable):
    """The report cannot be acted on as it is; the message says why, without the person."""


class NoBirthDate(SchoolLeaverRefused):
    def __init__(self) -> None:
        super().__init__(
            "the report has no birth_date: the pupil's age decides whether an agreement "
            "covers them, and it is never read from the identity number"
        )


class UnknownSchool(SchoolLeaverRefused):
    pass


class NoFollowUpService(SchoolLeaverRefused):
    pass


def school_system(source: str, school: OrganisationId) -> Actor:
    """The school's administration system, filing for the school."""
    return Actor(
        actor_id=ActorId(uuid.uuid5(SCHOOL_SYSTEMS, source)),
        organisation_id=school,
        role=Role.FILER,
    )


async def handle_pupil_left_school(
    connection: Connection,
    data: EventData,
    event: CloudEvent,
    *,
    keys: StoreKeys,
    allow_synthetic: bool,
    clock: Callable[[], dt.datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> None:
    """Register the pupil and refer them to the county's follow-up service, in the consumer's
    transaction; SchoolLeaverRefused when that cannot be done."""
    if not isinstance(data, PupilLeftSchoolV1):
        return  # another type on the topic: not for this consumer
    if data.birth_date is None:
        raise NoBirthDate()
    try:
        number = parse_identity_number(
            data.national_identity_number, allow_synthetic=allow_synthetic
        )
    except InvalidIdentityNumber as error:  # its message never repeats the number
        raise SchoolLeaverRefused(f"the identity number is refused: {error}") from None
    school = await _school(connection, data)
    now = clock()
    actor = school_system(event.source, school.organisation_id)
    registration = await subjects.register(
        connection,
        number,
        birth_date=data.birth_date,
        keys=keys,
        actor=actor,
        now=now,
        new_id=new_id,
    )
    subject_id = registration.subject_id
    await school_leavers.lock_subject(connection, subject_id)
    if await subjects.restricted_since(connection, subject_id) is not None:
        raise SchoolLeaverRefused(f"processing of subject {subject_id}'s data is restricted")
    if await school_leavers.has_open_referral(connection, subject_id, PURPOSE):
        log.info(
            "subject %s already has an open referral for %s; event %s files none",
            subject_id,
            PURPOSE.value,
            event.id,
        )
        return
    # The stored birth date is the person's record; a report does not change it.
    subject = await subjects.get(connection, subject_id, keys)
    today = oslo_date(now)
    if subject.birth_date > today:
        raise SchoolLeaverRefused("the pupil's birth date is after today")
    candidates = await agreements.latest_of_party(connection, school.organisation_id)
    receiver = await _follow_up_service(
        connection, school, candidates, age=subject.age_on(today), today=today
    )
    try:
        referral = Referral.file(
            referral_id=ReferralId(new_id()),
            subject=subject,
            sender=school,
            receiver=receiver,
            purpose=PURPOSE,
            situation=SITUATION,
            agreements=candidates,
            consent=None,
            statutory_basis=STATUTORY_BASIS,
            actor=actor,
            now=now,
            note=(
                f"Reported by the school's administration system: left school on "
                f"{data.left_at.isoformat()} ({data.reason.value})."
            ),
        )
    except ReferralDomainError as error:  # the domain's messages never name the person
        raise SchoolLeaverRefused(str(error)) from None
    await store.save(connection, referral, expected_version=0, new_id=new_id, now=now, keys=keys)
    log.info(
        "event %s: referral %s of subject %s filed from %s to %s",
        event.id,
        referral.referral_id,
        subject_id,
        school.organisation_id,
        receiver.organisation_id,
    )


async def _school(connection: Connection, data: PupilLeftSchoolV1) -> Organisation:
    if data.school_organisation_id is not None:
        school_id: OrganisationId | None = data.school_organisation_id
        named = f"id {data.school_organisation_id}"
    else:
        assert data.school_organisation_number is not None  # the model has exactly one
        school_id = await school_leavers.organisation_with_number(
            connection, data.school_organisation_number
        )
        named = f"organisation number {data.school_organisation_number}"
    if school_id is None:
        raise UnknownSchool(f"no organisation with {named} in the directory")
    try:
        school = await organisations.get(connection, school_id)
    except NotFound:
        raise UnknownSchool(f"no organisation with {named} in the directory") from None
    if school.type is not OrganisationType.SCHOOL:
        raise UnknownSchool(f"the organisation with {named} is a {school.type.value}, not a school")
    return school


async def _follow_up_service(
    connection: Connection,
    school: Organisation,
    candidates: Sequence[Agreement],
    *,
    age: int,
    today: dt.date,
) -> Organisation:
    """The one follow-up service an agreement route from the school allows the referral to."""
    named: set[OrganisationId] = set()
    for agreement in candidates:
        for route in agreement.routes:
            end = route.to_organisation
            if isinstance(end, AnOrganisation):
                named.add(end.organisation_id)
            elif end.organisation_type is OrganisationType.FOLLOW_UP_SERVICE:
                named.update(agreement.parties)
    named.discard(school.organisation_id)
    services: list[Organisation] = []
    for organisation_id in sorted(named, key=str):
        try:
            organisation = await organisations.get(connection, organisation_id)
        except NotFound:
            continue
        if organisation.type is OrganisationType.FOLLOW_UP_SERVICE:
            services.append(organisation)
    if not services:
        raise NoFollowUpService(
            f"no agreement of school {school.organisation_id} has a route to a follow-up service"
        )
    allowed: list[Organisation] = []
    refusals: list[RouteRefusal] = []
    for service in services:
        try:
            find_route(
                candidates,
                sender=school,
                receiver=service,
                purpose=PURPOSE,
                age=age,
                situation=SITUATION,
                on=today,
            )
        except NoAgreementRoute as error:
            refusals.extend(error.refusals)
        else:
            allowed.append(service)
    if not allowed:
        reasons = "; ".join(dict.fromkeys(str(refusal) for refusal in refusals))
        raise NoFollowUpService(
            f"no agreement route from school {school.organisation_id} to a follow-up service "
            f"for {PURPOSE.value} ({SITUATION.value}): {reasons}"
        )
    if len(allowed) > 1:
        listed = ", ".join(str(service.organisation_id) for service in allowed)
        raise NoFollowUpService(
            f"routes from school {school.organisation_id} lead to more than one follow-up "
            f"service ({listed}); the school must refer the pupil itself"
        )
    return allowed[0]
