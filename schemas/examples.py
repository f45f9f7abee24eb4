"""One valid example of every event type: for the generated schemas and AsyncAPI document,
and for tests. Every id and organisation number is made up; the identity number is a
synthetic test number."""

import datetime as dt
import uuid
from typing import TypeVar

from schemas.access import AccessPurpose, PersonalDataAccessedV1, Resource
from schemas.actors import Actor
from schemas.audit import AuditCheckpointV1
from schemas.codes import OrganisationType, Purpose, Role, Sector
from schemas.deadlines import (
    DeadlineApproachingV1,
    DeadlineKind,
    DeadlineMetV1,
    DeadlineMissedV1,
)
from schemas.directory import (
    AgreementAmendedV1,
    AgreementRegisteredV1,
    AgreementTerminatedV1,
    AnOrganisation,
    LinkageLevel,
    OrganisationRegisteredV1,
    OrganisationsOfType,
    OrganisationUpdatedV1,
    Route,
    ServiceLevels,
    Situation,
    TargetGroup,
    TerminationReason,
)
from schemas.envelope import EventData
from schemas.ids import (
    AccessId,
    ActorId,
    AgreementId,
    ConsentId,
    ContactId,
    DeliveryId,
    EventId,
    FollowUpId,
    OrganisationId,
    ReferralId,
    SubjectId,
    SubscriptionId,
)
from schemas.inbound import LeftSchoolReason, PupilLeftSchoolV1
from schemas.notifications import (
    Channel,
    DeliveryFailure,
    NotificationDeadLetteredV1,
    NotificationDeliveredV1,
    NotificationFailedV1,
)
from schemas.person import (
    CollectionMethod,
    ConsentExpiredV1,
    ConsentGivenV1,
    ConsentGiver,
    ConsentWithdrawnV1,
    RestrictionGround,
    RestrictionLiftGround,
    SubjectErasedV1,
    SubjectRegisteredV1,
    SubjectRestrictedV1,
    SubjectRestrictionLiftedV1,
)
from schemas.referrals import (
    CancellationReason,
    ContactMethod,
    ContactResult,
    Outcome,
    RedirectionReason,
    ReferralAcceptedV1,
    ReferralAssignedV1,
    ReferralCancelledV1,
    ReferralCompletedV1,
    ReferralContactRecordedV1,
    ReferralFollowUpRecordedV1,
    ReferralReceivedV1,
    ReferralRedirectedV1,
    ReferralRejectedV1,
    ReferralStartedV1,
    ReferralSubmittedV1,
    ReferralWithdrawnV1,
    RejectionReason,
    StatutoryBasis,
    WithdrawalReason,
)

AT = dt.datetime(2026, 9, 14, 9, 30, tzinfo=dt.UTC)
SUBJECT = SubjectId(uuid.UUID("6f1c2b1e-8a53-4f0e-9a43-5b7d0c1e2f30"))
REFERRAL = ReferralId(uuid.UUID("0d9a8f7e-6c5b-4a39-8271-605f4e3d2c1b"))
CONSENT = ConsentId(uuid.UUID("a3b2c1d0-e9f8-4a7b-8c6d-5e4f3a2b1c0d"))
AGREEMENT = AgreementId(uuid.UUID("5e0c7a1b-2d3f-4e5a-9b6c-7d8e9f0a1b2c"))
FOLLOW_UP_SERVICE = OrganisationId(uuid.UUID("11111111-2222-4333-8444-555555555555"))
NAV_OFFICE = OrganisationId(uuid.UUID("66666666-7777-4888-9999-aaaaaaaaaaaa"))
CAREER_CENTRE = OrganisationId(uuid.UUID("bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"))
SCHOOL = OrganisationId(uuid.UUID("12345678-9abc-4def-8123-456789abcdef"))
COUNSELLOR = Actor(
    actor_id=ActorId(uuid.UUID("c0ffee00-1234-4567-89ab-cdef01234567")),
    organisation_id=NAV_OFFICE,
    role=Role.COUNSELLOR,
)
FILER = Actor(
    actor_id=ActorId(uuid.UUID("f11e0000-1234-4567-89ab-cdef01234567")),
    organisation_id=FOLLOW_UP_SERVICE,
    role=Role.FILER,
)
ADMIN = Actor(
    actor_id=ActorId(uuid.UUID("ad000000-1234-4567-89ab-cdef01234567")),
    organisation_id=FOLLOW_UP_SERVICE,
    role=Role.ADMIN,
)
# A synthetic number (month + 40): it belongs to nobody.
SYNTHETIC_IDENTITY_NUMBER = "15450850060"

_ORGANISATION = {
    "organisation_id": NAV_OFFICE,
    "name": "NAV Sentrum",
    "type": OrganisationType.NAV_OFFICE,
    "sector": Sector.WORK_WELFARE,
    "organisation_number": "912345688",
    "county_number": "03",
    "municipality_numbers": ["0301"],
    "actor": ADMIN,
    "occurred_at": AT,
}
_AGREEMENT = {
    "agreement_id": AGREEMENT,
    "version": 1,
    "county_number": "03",
    "valid_from": dt.date(2026, 8, 1),
    "valid_until": dt.date(2030, 7, 31),
    "parties": [FOLLOW_UP_SERVICE, NAV_OFFICE, CAREER_CENTRE],
    "linkage_level": LinkageLevel.COOPERATION,
    "routes": [
        Route(
            from_organisation=OrganisationsOfType(
                organisation_type=OrganisationType.FOLLOW_UP_SERVICE
            ),
            to_organisation=AnOrganisation(organisation_id=NAV_OFFICE),
            purposes=[Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK, Purpose.WORK_ORIENTED_MEASURE],
        )
    ],
    "target_groups": [
        TargetGroup(min_age=15, max_age=24, situations=[Situation.OUTSIDE_SCHOOL_AND_WORK])
    ],
    "service_levels": ServiceLevels(
        acknowledge_within_working_days=2,
        decide_within_working_days=10,
        first_contact_within_working_days=5,
        follow_up_every_days=30,
    ),
    "actor": ADMIN,
    "occurred_at": AT,
}
_REFERRAL = {
    "referral_id": REFERRAL,
    "subject_id": SUBJECT,
    "from_organisation_id": FOLLOW_UP_SERVICE,
    "to_organisation_id": NAV_OFFICE,
    "actor": COUNSELLOR,
    "occurred_at": AT,
}
_BASIS = {
    "agreement_id": AGREEMENT,
    "agreement_version": 1,
    "purpose": Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,
    "consent_id": CONSENT,
}
_DEADLINE = {
    "referral_id": REFERRAL,
    "subject_id": SUBJECT,
    "kind": DeadlineKind.DECIDE,
    "due_at": AT + dt.timedelta(days=2),
    "organisation_id": NAV_OFFICE,
    "agreement_id": AGREEMENT,
    "agreement_version": 1,
    "occurred_at": AT,
}
_DELIVERY = {
    "delivery_id": DeliveryId(uuid.UUID("de11e000-1234-4567-89ab-cdef01234567")),
    "subscription_id": SubscriptionId(uuid.UUID("5b5c0000-1234-4567-89ab-cdef01234567")),
    "organisation_id": NAV_OFFICE,
    "channel": Channel.WEBHOOK,
    "attempt": 1,
    "notified_event_id": EventId(uuid.UUID("e0e0e0e0-1234-4567-89ab-cdef01234567")),
    "notified_event_type": "no.overgang.referral.submitted.v1",
    "occurred_at": AT,
}

EXAMPLES: tuple[EventData, ...] = (
    OrganisationRegisteredV1.model_validate(_ORGANISATION),
    OrganisationUpdatedV1.model_validate(
        _ORGANISATION | {"municipality_numbers": ["0301", "3201"]}
    ),
    AgreementRegisteredV1.model_validate(_AGREEMENT),
    AgreementAmendedV1.model_validate(
        _AGREEMENT
        | {
            "version": 2,
            "linkage_level": LinkageLevel.COORDINATION,
            "lead_organisation_id": NAV_OFFICE,
            "guardian_consent_below_age": 16,
        }
    ),
    AgreementTerminatedV1(
        agreement_id=AGREEMENT,
        version=2,
        ends_on=dt.date(2027, 7, 31),
        reason=TerminationReason.REPLACED,
        replaced_by_agreement_id=AgreementId(uuid.UUID("5e0c7a1b-2d3f-4e5a-9b6c-7d8e9f0a1b2d")),
        actor=ADMIN,
        occurred_at=AT,
    ),
    SubjectRegisteredV1(subject_id=SUBJECT, actor=FILER, occurred_at=AT),
    SubjectRestrictedV1(
        subject_id=SUBJECT, ground=RestrictionGround.ERASURE_REQUESTED, actor=ADMIN, occurred_at=AT
    ),
    SubjectRestrictionLiftedV1(
        subject_id=SUBJECT,
        ground=RestrictionLiftGround.ACCURACY_VERIFIED,
        actor=ADMIN,
        occurred_at=AT,
    ),
    SubjectErasedV1(subject_id=SUBJECT, actor=ADMIN, occurred_at=AT),
    ConsentGivenV1(
        subject_id=SUBJECT,
        consent_id=CONSENT,
        given_by=ConsentGiver.PERSON,
        purposes=[Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK],
        recipient_organisation_ids=[NAV_OFFICE],
        recipient_sectors=[Sector.CAREER_GUIDANCE],
        expires_at=AT + dt.timedelta(days=365),
        collection_method=CollectionMethod.DIGITAL_ID_PORTEN,
        actor=FILER,
        occurred_at=AT,
    ),
    ConsentWithdrawnV1(
        subject_id=SUBJECT,
        consent_id=CONSENT,
        withdrawn_by=ConsentGiver.PERSON,
        actor=FILER,
        occurred_at=AT,
    ),
    ConsentExpiredV1(subject_id=SUBJECT, consent_id=CONSENT, occurred_at=AT),
    ReferralSubmittedV1.model_validate(_REFERRAL | _BASIS | {"actor": FILER}),
    ReferralReceivedV1.model_validate(_REFERRAL),
    ReferralAcceptedV1.model_validate(_REFERRAL),
    ReferralRejectedV1.model_validate(_REFERRAL | {"reason": RejectionReason.OUTSIDE_MANDATE}),
    ReferralRedirectedV1.model_validate(
        _REFERRAL
        | _BASIS
        | {
            "consent_id": None,
            "statutory_basis": StatutoryBasis.PUBLIC_ADMINISTRATION_ACT_13B_5,
            "to_organisation_id": CAREER_CENTRE,
            "redirected_from_organisation_id": NAV_OFFICE,
            "reason": RedirectionReason.BETTER_PLACED_ELSEWHERE,
        }
    ),
    ReferralWithdrawnV1.model_validate(
        _REFERRAL | {"actor": FILER, "reason": WithdrawalReason.NO_LONGER_NEEDED}
    ),
    ReferralStartedV1.model_validate(_REFERRAL),
    ReferralContactRecordedV1.model_validate(
        _REFERRAL
        | {
            "contact_id": ContactId(uuid.UUID("c0c0c0c0-1234-4567-89ab-cdef01234567")),
            "method": ContactMethod.PHONE,
            "result": ContactResult.REACHED,
        }
    ),
    ReferralFollowUpRecordedV1.model_validate(
        _REFERRAL
        | {
            "follow_up_id": FollowUpId(uuid.UUID("f0f0f0f0-1234-4567-89ab-cdef01234567")),
            "method": ContactMethod.MEETING,
        }
    ),
    ReferralCompletedV1.model_validate(_REFERRAL | {"outcome": Outcome.EMPLOYMENT}),
    ReferralCancelledV1.model_validate(
        _REFERRAL
        | {"actor": FILER, "reason": CancellationReason.CONSENT_WITHDRAWN, "consent_id": CONSENT}
    ),
    ReferralAssignedV1.model_validate(
        _REFERRAL
        | {
            "assignee_id": ActorId(uuid.UUID("a5500000-1234-4567-89ab-cdef01234567")),
            "assignee_role": Role.COUNSELLOR,
        }
    ),
    DeadlineApproachingV1.model_validate(_DEADLINE),
    DeadlineMissedV1.model_validate(_DEADLINE | {"occurred_at": AT + dt.timedelta(days=3)}),
    DeadlineMetV1.model_validate(_DEADLINE | {"met_at": AT + dt.timedelta(days=1)}),
    NotificationDeliveredV1.model_validate(_DELIVERY | {"status_code": 204}),
    NotificationFailedV1.model_validate(
        _DELIVERY
        | {
            "status_code": 503,
            "failure": DeliveryFailure.HTTP_STATUS,
            "next_attempt_at": AT + dt.timedelta(minutes=5),
        }
    ),
    NotificationDeadLetteredV1.model_validate(
        _DELIVERY | {"attempt": 8, "failure": DeliveryFailure.TIMEOUT}
    ),
    PersonalDataAccessedV1(
        access_id=AccessId(uuid.UUID("acce5500-1234-4567-89ab-cdef01234567")),
        actor=COUNSELLOR,
        subject_id=SUBJECT,
        purpose=AccessPurpose.CASE_HANDLING,
        resource=Resource.REFERRAL,
        referral_id=REFERRAL,
        occurred_at=AT,
    ),
    AuditCheckpointV1(
        sequence=1042,
        row_hash="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        occurred_at=AT,
    ),
    PupilLeftSchoolV1(
        school_organisation_number="987654325",
        national_identity_number=SYNTHETIC_IDENTITY_NUMBER,
        left_at=dt.date(2026, 9, 11),
        reason=LeftSchoolReason.DROPPED_OUT,
    ),
)


E = TypeVar("E", bound=EventData)


def example_of(model: type[E]) -> E:
    """The example of one event type."""
    for example in EXAMPLES:
        if type(example) is model:
            return example
    raise LookupError(f"no example of {model.__name__}")
