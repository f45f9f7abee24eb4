"""Deadline events: a referral's service-level deadlines approaching, missed and met, each
raised once. Deadlines come from the agreement's service levels, in Norwegian working days."""

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from schemas.envelope import EventData
from schemas.ids import AgreementId, OrganisationId, ReferralId, SubjectId
from schemas.topics import DEADLINE, Topic


class DeadlineKind(StrEnum):
    """Which service level a deadline comes from."""

    ACKNOWLEDGE = "acknowledge"
    DECIDE = "decide"
    FIRST_CONTACT = "first_contact"
    FOLLOW_UP = "follow_up"


class _DeadlineEvent(EventData):
    """Something about one deadline of one referral."""

    topic: ClassVar[Topic] = DEADLINE

    referral_id: ReferralId = Field(description="the referral")
    subject_id: SubjectId = Field(description="the person referred, as a random id")
    kind: DeadlineKind = Field(description="which service level the deadline comes from")
    due_at: AwareDatetime = Field(description="when the deadline falls")
    organisation_id: OrganisationId = Field(description="the organisation that must meet it")
    agreement_id: AgreementId = Field(description="the agreement that sets it")
    agreement_version: int = Field(ge=1, le=10_000, description="the version of that agreement")
    occurred_at: AwareDatetime = Field(description="when this was noticed")

    def partition_key(self) -> str:
        return str(self.subject_id)

    def ce_subject(self) -> str:
        return str(self.referral_id)


class DeadlineApproachingV1(_DeadlineEvent):
    """A deadline is near and not yet met; the organisation is reminded."""

    ce_type: ClassVar[str] = "no.overgang.deadline.approaching.v1"


class DeadlineMissedV1(_DeadlineEvent):
    """A deadline passed without being met."""

    ce_type: ClassVar[str] = "no.overgang.deadline.missed.v1"


class DeadlineMetV1(_DeadlineEvent):
    """A deadline was met, in time or late."""

    ce_type: ClassVar[str] = "no.overgang.deadline.met.v1"

    met_at: AwareDatetime = Field(description="when the step that meets it was taken")
