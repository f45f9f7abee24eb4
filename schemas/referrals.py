"""Referral events: a handoff's lifecycle, on the person topic so that it stays in order with
the person's consents.

Every event names the referral, the person (as a subject_id), the sending and the receiving
organisation and the actor (id, organisation, role). Reasons and outcomes are codes; free text
stays in the referral store."""

from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from schemas.actors import Actor
from schemas.codes import Purpose, Role
from schemas.envelope import EventData
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
from schemas.topics import PERSON, Topic


class StatutoryBasis(StrEnum):
    """The legal basis of a referral made without consent. Each code names one provision."""

    # Opplæringslova (LOV-2023-06-09-30): the county's follow-up service (oppfølgingstenesta)
    # for young people with a right to upper secondary education, outside school and work.
    EDUCATION_ACT_FOLLOW_UP_SERVICE = "education_act_follow_up_service"
    # Forvaltningsloven § 13 b first paragraph no. 5: information given to another public body
    # where that is needed to carry out the giving body's own tasks.
    PUBLIC_ADMINISTRATION_ACT_13B_5 = "public_administration_act_13b_5"
    # NAV-loven § 15: the NAV office's duty to cooperate with other public services.
    NAV_ACT_COOPERATION = "nav_act_cooperation"


class _ReferralEvent(EventData):
    """A step in one referral's lifecycle."""

    topic: ClassVar[Topic] = PERSON

    referral_id: ReferralId = Field(description="the referral")
    subject_id: SubjectId = Field(description="the person referred, as a random id")
    from_organisation_id: OrganisationId = Field(description="the organisation that sent it")
    to_organisation_id: OrganisationId = Field(
        description="the organisation it is (now) addressed to"
    )
    actor: Actor = Field(description="who took this step")
    occurred_at: AwareDatetime = Field(description="when the step was taken")

    def partition_key(self) -> str:
        return str(self.subject_id)

    def ce_subject(self) -> str:
        return str(self.referral_id)


# In JSON Schema: a consent, a statutory basis, or both; never neither.
_CONSENT_OR_STATUTE: dict[str, Any] = {
    "anyOf": [
        {"required": ["consent_id"], "properties": {"consent_id": {"not": {"type": "null"}}}},
        {
            "required": ["statutory_basis"],
            "properties": {"statutory_basis": {"not": {"type": "null"}}},
        },
    ]
}


class _UnderAnAgreement(_ReferralEvent):
    """A step that needs an agreement's route and a legal basis for sharing."""

    model_config = ConfigDict(json_schema_extra=_CONSENT_OR_STATUTE)

    agreement_id: AgreementId = Field(description="the agreement whose route allows it")
    agreement_version: int = Field(ge=1, le=10_000, description="the version of that agreement")
    purpose: Purpose = Field(description="what the referral is for")
    consent_id: ConsentId | None = Field(
        None, description="the consent that covers the recipient and purpose"
    )
    statutory_basis: StatutoryBasis | None = Field(
        None, description="the provision that allows it without consent"
    )

    @model_validator(mode="after")
    def _has_a_legal_basis(self) -> Self:
        if self.consent_id is None and self.statutory_basis is None:
            raise ValueError("a referral needs a consent_id or a statutory_basis")
        return self


class ReferralSubmittedV1(_UnderAnAgreement):
    """A referral was filed by the sending organisation."""

    ce_type: ClassVar[str] = "no.overgang.referral.submitted.v1"


class ReferralReceivedV1(_ReferralEvent):
    """The receiving organisation acknowledged a referral."""

    ce_type: ClassVar[str] = "no.overgang.referral.received.v1"


class ReferralAcceptedV1(_ReferralEvent):
    """The receiving organisation accepted a referral."""

    ce_type: ClassVar[str] = "no.overgang.referral.accepted.v1"


class RejectionReason(StrEnum):
    """Why a referral was rejected."""

    OUTSIDE_MANDATE = "outside_mandate"
    NO_CAPACITY = "no_capacity"
    DUPLICATE = "duplicate"
    INSUFFICIENT_INFORMATION = "insufficient_information"
    SUBJECT_DECLINED = "subject_declined"
    OTHER = "other"


class ReferralRejectedV1(_ReferralEvent):
    """The receiving organisation rejected a referral."""

    ce_type: ClassVar[str] = "no.overgang.referral.rejected.v1"

    reason: RejectionReason = Field(description="why it was rejected")


class RedirectionReason(StrEnum):
    """Why a referral was sent on to another organisation."""

    OUTSIDE_MANDATE = "outside_mandate"
    BETTER_PLACED_ELSEWHERE = "better_placed_elsewhere"
    SUBJECT_MOVED = "subject_moved"
    NO_CAPACITY = "no_capacity"
    OTHER = "other"


class ReferralRedirectedV1(_UnderAnAgreement):
    """The receiving organisation sent a referral on to another; it is received again there."""

    ce_type: ClassVar[str] = "no.overgang.referral.redirected.v1"

    redirected_from_organisation_id: OrganisationId = Field(
        description="the organisation it was addressed to before; to_organisation_id is the new one"
    )
    reason: RedirectionReason = Field(description="why it was redirected")


class WithdrawalReason(StrEnum):
    """Why the sender withdrew a referral before it was accepted."""

    FILED_IN_ERROR = "filed_in_error"
    NO_LONGER_NEEDED = "no_longer_needed"
    SUBJECT_DECLINED = "subject_declined"
    DUPLICATE = "duplicate"
    OTHER = "other"


class ReferralWithdrawnV1(_ReferralEvent):
    """The sending organisation withdrew a referral before it was accepted."""

    ce_type: ClassVar[str] = "no.overgang.referral.withdrawn.v1"

    reason: WithdrawalReason = Field(description="why it was withdrawn")


class ReferralStartedV1(_ReferralEvent):
    """Work on an accepted referral began (status in_progress)."""

    ce_type: ClassVar[str] = "no.overgang.referral.started.v1"


class ContactMethod(StrEnum):
    """How a counsellor met or tried to reach the person."""

    MEETING = "meeting"
    PHONE = "phone"
    VIDEO = "video"
    DIGITAL_MESSAGE = "digital_message"
    LETTER = "letter"
    HOME_VISIT = "home_visit"


class ContactResult(StrEnum):
    """Whether the person was reached."""

    REACHED = "reached"
    NOT_REACHED = "not_reached"


class ReferralContactRecordedV1(_ReferralEvent):
    """A contact with the person, or an attempt, was recorded against an accepted referral."""

    ce_type: ClassVar[str] = "no.overgang.referral.contact_recorded.v1"

    contact_id: ContactId = Field(description="the contact")
    method: ContactMethod = Field(description="how contact was made or tried")
    result: ContactResult = Field(description="whether the person was reached")


class ReferralFollowUpRecordedV1(_ReferralEvent):
    """A follow-up of the person was recorded against a referral in progress."""

    ce_type: ClassVar[str] = "no.overgang.referral.follow_up_recorded.v1"

    follow_up_id: FollowUpId = Field(description="the follow-up")
    method: ContactMethod = Field(description="how the follow-up was done")


class Outcome(StrEnum):
    """Where the person went when the referral was completed."""

    EDUCATION = "education"
    EMPLOYMENT = "employment"
    TRAINING = "training"
    OTHER_SERVICE = "other_service"
    NO_CONTACT = "no_contact"
    MOVED = "moved"
    DECLINED = "declined"


class ReferralCompletedV1(_ReferralEvent):
    """A referral in progress was completed with a coded outcome."""

    ce_type: ClassVar[str] = "no.overgang.referral.completed.v1"

    outcome: Outcome = Field(description="the outcome")


class CancellationReason(StrEnum):
    """Why an open referral was cancelled."""

    CONSENT_WITHDRAWN = "consent_withdrawn"
    SUBJECT_ERASED = "subject_erased"
    DUPLICATE = "duplicate"


class ReferralCancelledV1(_ReferralEvent):
    """An open referral was cancelled, e.g. because the consent behind it was withdrawn."""

    ce_type: ClassVar[str] = "no.overgang.referral.cancelled.v1"

    reason: CancellationReason = Field(description="why it was cancelled")
    consent_id: ConsentId | None = Field(
        None, description="the withdrawn consent, when that is the reason"
    )


class ReferralAssignedV1(_ReferralEvent):
    """A referral was given to a user of the receiving organisation to handle."""

    ce_type: ClassVar[str] = "no.overgang.referral.assigned.v1"

    assignee_id: ActorId = Field(description="the user it was given to, by opaque id")
    assignee_role: Role = Field(description="the role they handle it in")


# Every step of a referral's lifecycle: what services match on when they follow referrals.
ReferralEvent = (
    ReferralSubmittedV1
    | ReferralReceivedV1
    | ReferralAcceptedV1
    | ReferralRejectedV1
    | ReferralRedirectedV1
    | ReferralWithdrawnV1
    | ReferralStartedV1
    | ReferralContactRecordedV1
    | ReferralFollowUpRecordedV1
    | ReferralCompletedV1
    | ReferralCancelledV1
    | ReferralAssignedV1
)
