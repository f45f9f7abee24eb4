"""Person-keyed events about the person themselves: their registration and rights, and their
consents. The person is only a random `subject_id` here; who they are stays in the referral
store."""

from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from schemas.actors import Actor
from schemas.codes import Purpose, Sector
from schemas.envelope import EventData
from schemas.ids import ConsentId, OrganisationId, SubjectId
from schemas.topics import PERSON, Topic


class _AboutAPerson(EventData):
    """An event about one person, keyed by subject_id so that their history stays in order."""

    topic: ClassVar[Topic] = PERSON

    subject_id: SubjectId = Field(description="the person, as a random id")
    occurred_at: AwareDatetime = Field(description="when it happened")

    def partition_key(self) -> str:
        return str(self.subject_id)

    def ce_subject(self) -> str | None:
        return str(self.subject_id)


class SubjectRegisteredV1(_AboutAPerson):
    """A person was registered by their identity number and given a subject_id."""

    ce_type: ClassVar[str] = "no.overgang.subject.registered.v1"

    actor: Actor = Field(description="who registered the person")


class RestrictionGround(StrEnum):
    """Why processing is restricted (GDPR art. 18(1), and erasure requests pending)."""

    ACCURACY_CONTESTED = "accuracy_contested"  # art. 18(1)(a)
    UNLAWFUL_PROCESSING = "unlawful_processing"  # art. 18(1)(b)
    NEEDED_FOR_LEGAL_CLAIMS = "needed_for_legal_claims"  # art. 18(1)(c)
    OBJECTION_PENDING = "objection_pending"  # art. 18(1)(d)
    ERASURE_REQUESTED = "erasure_requested"


class SubjectRestrictedV1(_AboutAPerson):
    """Access to a person's data was restricted; only what the law requires may still be done."""

    ce_type: ClassVar[str] = "no.overgang.subject.restricted.v1"

    ground: RestrictionGround = Field(description="why it was restricted")
    actor: Actor = Field(description="who restricted it")


class RestrictionLiftGround(StrEnum):
    """Why a restriction ends (GDPR art. 18(3): the person is told before it is lifted)."""

    ACCURACY_VERIFIED = "accuracy_verified"  # the contested data was checked (18(1)(a))
    OBJECTION_DECIDED = "objection_decided"  # the objection was weighed and decided (18(1)(d))
    PERSON_REQUESTED = "person_requested"  # the person who asked for it asks to end it
    LEGAL_CLAIMS_CONCLUDED = "legal_claims_concluded"  # the data is no longer needed (18(1)(c))
    ERASURE_REQUEST_WITHDRAWN = "erasure_request_withdrawn"


class SubjectRestrictionLiftedV1(_AboutAPerson):
    """A restriction of a person's data ended: it may be processed again as before."""

    ce_type: ClassVar[str] = "no.overgang.subject.restriction_lifted.v1"

    ground: RestrictionLiftGround = Field(description="why the restriction ended")
    actor: Actor = Field(description="who lifted it")


class SubjectErasedV1(_AboutAPerson):
    """A person's key was destroyed: what remains about them anywhere can no longer be read."""

    ce_type: ClassVar[str] = "no.overgang.subject.erased.v1"

    actor: Actor = Field(description="who erased the person's data")


class ConsentGiver(StrEnum):
    """Who gave (or withdrew) a consent."""

    PERSON = "person"
    GUARDIAN = "guardian"  # for a person under the agreement's guardian-consent age


class CollectionMethod(StrEnum):
    """How a consent was collected."""

    DIGITAL_ID_PORTEN = "digital_id_porten"  # signed after logging in with ID-porten
    PAPER_SIGNED = "paper_signed"
    ORAL_DOCUMENTED = "oral_documented"  # given orally and documented by the counsellor


class _AboutAConsent(_AboutAPerson):
    """An event in the life of one consent."""

    consent_id: ConsentId = Field(description="the consent")

    def ce_subject(self) -> str:
        return str(self.consent_id)


# In JSON Schema: at least one recipient, organisation or sector.
_SOME_RECIPIENT: dict[str, Any] = {
    "anyOf": [
        {
            "required": ["recipient_organisation_ids"],
            "properties": {"recipient_organisation_ids": {"minItems": 1}},
        },
        {"required": ["recipient_sectors"], "properties": {"recipient_sectors": {"minItems": 1}}},
    ]
}


class ConsentGivenV1(_AboutAConsent):
    """A person or their guardian consented to sharing for some purposes with some recipients."""

    ce_type: ClassVar[str] = "no.overgang.consent.given.v1"
    model_config = ConfigDict(json_schema_extra=_SOME_RECIPIENT)

    given_by: ConsentGiver = Field(description="who gave it")
    purposes: list[Purpose] = Field(
        min_length=1, max_length=10, description="the purposes it covers"
    )
    recipient_organisation_ids: list[OrganisationId] = Field(
        default_factory=list, max_length=100, description="the organisations it covers"
    )
    recipient_sectors: list[Sector] = Field(
        default_factory=list,
        max_length=10,
        description="the sectors it covers, every organisation in them",
    )
    expires_at: AwareDatetime = Field(description="when it stops covering anything")
    collection_method: CollectionMethod = Field(description="how it was collected")
    actor: Actor = Field(description="who recorded it")

    @model_validator(mode="after")
    def _covers_someone(self) -> Self:
        if not self.recipient_organisation_ids and not self.recipient_sectors:
            raise ValueError("a consent names at least one recipient organisation or sector")
        if self.expires_at <= self.occurred_at:
            raise ValueError("expires_at is not after occurred_at")
        return self


class ConsentWithdrawnV1(_AboutAConsent):
    """A consent was withdrawn; the referrals that depend on it are cancelled."""

    ce_type: ClassVar[str] = "no.overgang.consent.withdrawn.v1"

    withdrawn_by: ConsentGiver = Field(description="who withdrew it")
    actor: Actor = Field(description="who recorded the withdrawal")


class ConsentExpiredV1(_AboutAConsent):
    """A consent reached its expiry time and covers nothing any more."""

    ce_type: ClassVar[str] = "no.overgang.consent.expired.v1"
