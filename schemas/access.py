"""Access events: every read of a person's data, recorded as who, whose, why, what and when."""

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from schemas.actors import Actor
from schemas.envelope import EventData
from schemas.ids import AccessId, ReferralId, SubjectId
from schemas.topics import ACCESS, Topic


class AccessPurpose(StrEnum):
    """Why a person's data was read."""

    CASE_HANDLING = "case_handling"
    SUBJECT_RIGHTS_REQUEST = "subject_rights_request"  # the person's access or export request
    AUDIT = "audit"
    LEGAL_OBLIGATION = "legal_obligation"


class Resource(StrEnum):
    """Which of the person's data was read."""

    IDENTITY = "identity"  # identity number and name
    CONTACT_DETAILS = "contact_details"
    CONSENTS = "consents"
    REFERRAL = "referral"
    REFERRAL_NOTES = "referral_notes"  # the free text kept in the referral store
    TIMELINE = "timeline"
    EXPORT = "export"


class PersonalDataAccessedV1(EventData):
    """A user read a person's data."""

    ce_type: ClassVar[str] = "no.overgang.personal_data.accessed.v1"
    topic: ClassVar[Topic] = ACCESS

    access_id: AccessId = Field(description="this read")
    actor: Actor = Field(description="who read it")
    subject_id: SubjectId = Field(description="whose data, as a random id")
    purpose: AccessPurpose = Field(description="why it was read")
    resource: Resource = Field(description="what was read")
    referral_id: ReferralId | None = Field(None, description="the referral it was read for, if any")
    occurred_at: AwareDatetime = Field(description="when it was read")

    def partition_key(self) -> str:
        return str(self.subject_id)

    def ce_subject(self) -> str:
        return str(self.subject_id)
