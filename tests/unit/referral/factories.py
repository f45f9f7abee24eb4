"""A small county for the referral domain's tests: organisations, their users, an agreement,
people, consents, and referrals brought to any status by legal steps."""

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

from schemas.actors import Actor
from schemas.codes import OrganisationType, Purpose, Role, Sector
from schemas.directory import (
    AgreementRegisteredV1,
    AnOrganisation,
    LinkageLevel,
    OrganisationsOfType,
    Route,
    ServiceLevels,
    Situation,
    TargetGroup,
)
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
from schemas.person import CollectionMethod, ConsentGiver
from schemas.referrals import (
    CancellationReason,
    ContactMethod,
    ContactResult,
    Outcome,
    RedirectionReason,
    RejectionReason,
    StatutoryBasis,
    WithdrawalReason,
)
from services.referral.domain.agreements import Agreement
from services.referral.domain.consents import Consent
from services.referral.domain.organisations import Organisation
from services.referral.domain.referral import Referral
from services.referral.domain.status import ReferralAction, ReferralStatus
from services.referral.domain.subjects import Subject

# Monday 14 September 2026, 11:30 in Oslo.
NOW = dt.datetime(2026, 9, 14, 9, 30, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"overgang-test:{name}")


def organisation(name: str, type_: OrganisationType, sector: Sector) -> Organisation:
    return Organisation(OrganisationId(_id(name)), type_, sector)


FOLLOW_UP_SERVICE = organisation("ot", OrganisationType.FOLLOW_UP_SERVICE, Sector.EDUCATION)
SCHOOL = organisation("school", OrganisationType.SCHOOL, Sector.EDUCATION)
NAV = organisation("nav-sentrum", OrganisationType.NAV_OFFICE, Sector.WORK_WELFARE)
NAV_EAST = organisation("nav-east", OrganisationType.NAV_OFFICE, Sector.WORK_WELFARE)
CAREER_CENTRE = organisation("career", OrganisationType.CAREER_CENTRE, Sector.CAREER_GUIDANCE)
# A NAV office of another county: party to no agreement here.
NAV_ELSEWHERE = organisation("nav-elsewhere", OrganisationType.NAV_OFFICE, Sector.WORK_WELFARE)


def actor(of: Organisation, role: Role, n: int = 1) -> Actor:
    return Actor(
        actor_id=ActorId(_id(f"{of.organisation_id}:{role}:{n}")),
        organisation_id=of.organisation_id,
        role=role,
    )


FILER = actor(FOLLOW_UP_SERVICE, Role.FILER)
COUNSELLOR = actor(NAV, Role.COUNSELLOR)
COORDINATOR = actor(NAV, Role.COORDINATOR)
ADMIN = actor(NAV, Role.ADMIN)
CAREER_COUNSELLOR = actor(CAREER_CENTRE, Role.COUNSELLOR)

AGREEMENT_ID = AgreementId(_id("agreement"))
SERVICE_LEVELS = ServiceLevels(
    acknowledge_within_working_days=2,
    decide_within_working_days=10,
    first_contact_within_working_days=5,
    follow_up_every_days=30,
)


def agreement(**changes: Any) -> Agreement:
    """The county's agreement: OT to any NAV office that signed, NAV offices to the career
    centre and back, for young people of 15 to 24 outside school and work."""
    event = AgreementRegisteredV1(
        agreement_id=AGREEMENT_ID,
        version=1,
        county_number="03",
        valid_from=dt.date(2026, 8, 1),
        valid_until=dt.date(2030, 7, 31),
        parties=[
            FOLLOW_UP_SERVICE.organisation_id,
            SCHOOL.organisation_id,
            NAV.organisation_id,
            NAV_EAST.organisation_id,
            CAREER_CENTRE.organisation_id,
        ],
        linkage_level=LinkageLevel.COOPERATION,
        routes=[
            Route(
                from_organisation=OrganisationsOfType(
                    organisation_type=OrganisationType.FOLLOW_UP_SERVICE
                ),
                to_organisation=OrganisationsOfType(organisation_type=OrganisationType.NAV_OFFICE),
                purposes=[Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK, Purpose.WORK_ORIENTED_MEASURE],
            ),
            Route(
                from_organisation=OrganisationsOfType(
                    organisation_type=OrganisationType.NAV_OFFICE
                ),
                to_organisation=AnOrganisation(organisation_id=CAREER_CENTRE.organisation_id),
                purposes=[Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK, Purpose.CAREER_GUIDANCE],
            ),
            Route(
                from_organisation=AnOrganisation(organisation_id=CAREER_CENTRE.organisation_id),
                to_organisation=OrganisationsOfType(organisation_type=OrganisationType.NAV_OFFICE),
                purposes=[Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK],
            ),
        ],
        target_groups=[
            TargetGroup(
                min_age=15,
                max_age=24,
                situations=[Situation.OUTSIDE_SCHOOL_AND_WORK, Situation.LEFT_UPPER_SECONDARY],
            )
        ],
        service_levels=SERVICE_LEVELS,
        actor=actor(FOLLOW_UP_SERVICE, Role.ADMIN),
        occurred_at=NOW - dt.timedelta(days=60),
    )
    return replace(Agreement.from_event(event), **changes)


# 18 on the filing day; and one who is 16.
ADULT = Subject(SubjectId(_id("adult")), birth_date=dt.date(2008, 3, 1))
MINOR = Subject(SubjectId(_id("minor")), birth_date=dt.date(2010, 1, 1))


def consent(
    subject: Subject = ADULT,
    *,
    given_by: ConsentGiver = ConsentGiver.PERSON,
    purposes: tuple[Purpose, ...] = (Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,),
    organisations: tuple[Organisation, ...] = (NAV,),
    sectors: tuple[Sector, ...] = (),
    given_at: dt.datetime = NOW - dt.timedelta(days=1),
    expires_at: dt.datetime = NOW + dt.timedelta(days=365),
    name: str = "consent",
) -> Consent:
    return Consent.give(
        consent_id=ConsentId(_id(f"{name}:{subject.subject_id}")),
        subject_id=subject.subject_id,
        given_by=given_by,
        purposes=purposes,
        recipient_organisation_ids=[o.organisation_id for o in organisations],
        recipient_sectors=sectors,
        expires_at=expires_at,
        collection_method=CollectionMethod.DIGITAL_ID_PORTEN,
        actor=FILER,
        now=given_at,
    )


def filed(
    *,
    subject: Subject = ADULT,
    consent: Consent | None = None,
    statutory_basis: StatutoryBasis | None = StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE,
    name: str = "referral",
) -> Referral:
    """A referral from the follow-up service to NAV, just filed."""
    return Referral.file(
        referral_id=ReferralId(_id(name)),
        subject=subject,
        sender=FOLLOW_UP_SERVICE,
        receiver=NAV,
        purpose=Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,
        situation=Situation.OUTSIDE_SCHOOL_AND_WORK,
        agreements=[agreement()],
        consent=consent,
        statutory_basis=statutory_basis,
        actor=FILER,
        now=NOW,
    )


A = ReferralAction
PATHS: dict[ReferralStatus, list[ReferralAction]] = {
    ReferralStatus.SUBMITTED: [],
    ReferralStatus.RECEIVED: [A.RECEIVE],
    ReferralStatus.REDIRECTED: [A.RECEIVE, A.REDIRECT],
    ReferralStatus.ACCEPTED: [A.RECEIVE, A.ACCEPT],
    ReferralStatus.IN_PROGRESS: [A.RECEIVE, A.ACCEPT, A.START],
    ReferralStatus.COMPLETED: [A.RECEIVE, A.ACCEPT, A.START, A.COMPLETE],
    ReferralStatus.REJECTED: [A.RECEIVE, A.REJECT],
    ReferralStatus.WITHDRAWN: [A.WITHDRAW],
    ReferralStatus.CANCELLED: [A.CANCEL],
}


def in_status(status: ReferralStatus, **filing: Any) -> Referral:
    """A referral from the follow-up service to NAV, brought to a status by legal steps."""
    referral = filed(**filing)
    for action in PATHS[status]:
        perform(referral, action)
    assert referral.status is status
    return referral


def contact(
    referral: Referral,
    n: int = 1,
    *,
    result: ContactResult = ContactResult.REACHED,
    at: dt.datetime = LATER,
) -> None:
    referral.record_contact(
        COUNSELLOR,
        contact_id=ContactId(_id(f"contact:{n}")),
        method=ContactMethod.PHONE,
        result=result,
        expected_version=referral.version,
        now=at,
    )


ORGANISATIONS = {
    o.organisation_id: o
    for o in (FOLLOW_UP_SERVICE, SCHOOL, NAV, NAV_EAST, CAREER_CENTRE, NAV_ELSEWHERE)
}


def receiver_of(referral: Referral) -> Organisation:
    return ORGANISATIONS[referral.to_organisation_id]


def default_actor(referral: Referral, action: ReferralAction) -> Actor:
    """Someone who may take the action on the referral as it is now."""
    if action is ReferralAction.WITHDRAW:
        return FILER
    if action is ReferralAction.CANCEL:
        return actor(FOLLOW_UP_SERVICE, Role.ADMIN)
    if action is ReferralAction.ASSIGN:
        return actor(receiver_of(referral), Role.COORDINATOR)
    return actor(receiver_of(referral), Role.COUNSELLOR)


def perform(
    referral: Referral,
    action: ReferralAction,
    by: Actor | None = None,
    *,
    expected_version: int | None = None,
    now: dt.datetime = LATER,
) -> None:
    """Take an action with valid arguments: by someone allowed unless `by` says otherwise, on
    the current version unless `expected_version` says otherwise."""
    who = default_actor(referral, action) if by is None else by
    version = referral.version if expected_version is None else expected_version
    unique = f"{referral.referral_id}:{referral.version}"
    if action is ReferralAction.RECEIVE:
        referral.receive(who, expected_version=version, now=now)
    elif action is ReferralAction.ACCEPT:
        referral.accept(who, expected_version=version, now=now)
    elif action is ReferralAction.REJECT:
        referral.reject(who, RejectionReason.OUTSIDE_MANDATE, expected_version=version, now=now)
    elif action is ReferralAction.REDIRECT:
        current = receiver_of(referral)
        referral.redirect(
            who,
            to=CAREER_CENTRE if current is not CAREER_CENTRE else NAV,
            current_receiver=current,
            reason=RedirectionReason.BETTER_PLACED_ELSEWHERE,
            subject=ADULT if referral.subject_id == ADULT.subject_id else MINOR,
            agreements=[agreement()],
            consent=None,
            statutory_basis=StatutoryBasis.PUBLIC_ADMINISTRATION_ACT_13B_5,
            expected_version=version,
            now=now,
        )
    elif action is ReferralAction.WITHDRAW:
        referral.withdraw(who, WithdrawalReason.FILED_IN_ERROR, expected_version=version, now=now)
    elif action is ReferralAction.START:
        referral.start(who, expected_version=version, now=now)
    elif action is ReferralAction.RECORD_CONTACT:
        referral.record_contact(
            who,
            contact_id=ContactId(_id(f"contact:{unique}")),
            method=ContactMethod.MEETING,
            result=ContactResult.REACHED,
            expected_version=version,
            now=now,
        )
    elif action is ReferralAction.RECORD_FOLLOW_UP:
        referral.record_follow_up(
            who,
            follow_up_id=FollowUpId(_id(f"follow-up:{unique}")),
            method=ContactMethod.VIDEO,
            expected_version=version,
            now=now,
        )
    elif action is ReferralAction.COMPLETE:
        referral.complete(who, Outcome.EMPLOYMENT, expected_version=version, now=now)
    elif action is ReferralAction.ASSIGN:
        assignee = actor(receiver_of(referral), Role.COUNSELLOR, n=referral.version + 100)
        referral.assign(who, assignee, expected_version=version, now=now)
    elif action is ReferralAction.CANCEL:
        referral.cancel(who, CancellationReason.DUPLICATE, expected_version=version, now=now)
    else:
        raise AssertionError(f"no way to {action} an existing referral")
