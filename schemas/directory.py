"""Directory events: organisations and the county cooperation agreements between them.

An agreement event carries the whole agreement, so that no service needs to ask the referral
service what a route, target group or service level is. Organisations are not persons: their
name is the one free-text field the contract allows (see `schemas.privacy`)."""

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import ClassVar, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.actors import Actor
from schemas.codes import OrganisationType, Purpose, Sector
from schemas.envelope import EventData
from schemas.ids import (
    AgreementId,
    CountyNumber,
    MunicipalityNumber,
    OrganisationId,
    OrganisationNumber,
)
from schemas.topics import DIRECTORY, Topic


class _OrganisationState(EventData):
    """Everything the directory holds about an organisation, as of this event."""

    topic: ClassVar[Topic] = DIRECTORY

    organisation_id: OrganisationId = Field(description="the organisation's id in Overgang")
    name: str = Field(min_length=1, max_length=200, description="the organisation's official name")
    type: OrganisationType = Field(description="what kind of organisation it is")
    sector: Sector = Field(description="the public sector it belongs to")
    organisation_number: OrganisationNumber | None = Field(
        None, description="its number in the Central Coordinating Register, if it has one"
    )
    county_number: CountyNumber = Field(description="the county it belongs to")
    municipality_numbers: list[MunicipalityNumber] = Field(
        max_length=100, description="the municipalities it serves"
    )
    actor: Actor = Field(description="the administrator who made the change")
    occurred_at: AwareDatetime = Field(description="when the change was made")

    def partition_key(self) -> str:
        return str(self.organisation_id)

    def ce_subject(self) -> str:
        return str(self.organisation_id)


class OrganisationRegisteredV1(_OrganisationState):
    """An organisation was added to the directory."""

    ce_type: ClassVar[str] = "no.overgang.organisation.registered.v1"


class OrganisationUpdatedV1(_OrganisationState):
    """An organisation's directory entry changed; the event carries the whole new entry."""

    ce_type: ClassVar[str] = "no.overgang.organisation.updated.v1"


class LinkageLevel(StrEnum):
    """How closely the parties work together (the ELGPN taxonomy)."""

    COMMUNICATION = "communication"  # information only
    COOPERATION = "cooperation"  # referrals
    COORDINATION = "coordination"  # a shared case with a lead organisation


class Situation(StrEnum):
    """A situation a target group of an agreement is in."""

    OUTSIDE_SCHOOL_AND_WORK = "outside_school_and_work"
    LEFT_UPPER_SECONDARY = "left_upper_secondary"
    AT_RISK_OF_LEAVING_UPPER_SECONDARY = "at_risk_of_leaving_upper_secondary"
    WITHOUT_UPPER_SECONDARY_QUALIFICATION = "without_upper_secondary_qualification"
    UNEMPLOYED = "unemployed"
    NEEDS_CAREER_GUIDANCE = "needs_career_guidance"


class AnOrganisation(BaseModel):
    """One named organisation at an end of a route."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    organisation_id: OrganisationId = Field(description="the organisation")


class OrganisationsOfType(BaseModel):
    """Every party of the agreement of one type at an end of a route."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    organisation_type: OrganisationType = Field(description="the type of organisation")


class Route(BaseModel):
    """Who may refer to whom under the agreement, and for what."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_organisation: AnOrganisation | OrganisationsOfType = Field(
        description="who may send: one organisation, or every party of a type"
    )
    to_organisation: AnOrganisation | OrganisationsOfType = Field(
        description="who may receive: one organisation, or every party of a type"
    )
    purposes: list[Purpose] = Field(
        min_length=1, max_length=10, description="the purposes referrals on this route may have"
    )


class TargetGroup(BaseModel):
    """Whom the agreement is for: an age range and the situations they are in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_age: int = Field(ge=0, le=120, description="the youngest age covered, in whole years")
    max_age: int = Field(ge=0, le=120, description="the oldest age covered, in whole years")
    situations: list[Situation] = Field(
        min_length=1, max_length=10, description="the situations covered; any of them qualifies"
    )

    @model_validator(mode="after")
    def _ages_in_order(self) -> Self:
        if self.min_age > self.max_age:
            raise ValueError("min_age is greater than max_age")
        return self


class ServiceLevels(BaseModel):
    """What the parties promise, in Norwegian working days unless said otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    acknowledge_within_working_days: int = Field(
        ge=1, le=60, description="a referral is received (acknowledged) within this many"
    )
    decide_within_working_days: int = Field(
        ge=1, le=60, description="a referral is accepted or rejected within this many"
    )
    first_contact_within_working_days: int = Field(
        ge=1, le=60, description="the person is first contacted within this many after acceptance"
    )
    follow_up_every_days: int = Field(
        ge=1, le=365, description="a follow-up is recorded at least every this many calendar days"
    )


def check_agreement_terms(
    *,
    valid_from: dt.date,
    valid_until: dt.date | None,
    parties: Sequence[OrganisationId],
    lead_organisation_id: OrganisationId | None,
    linkage_level: "LinkageLevel",
) -> None:
    """The rules every agreement keeps; ValueError naming the one broken."""
    if valid_until is not None and valid_until < valid_from:
        raise ValueError("valid_until is before valid_from")
    if len(set(parties)) != len(parties):
        raise ValueError("a party is listed twice")
    if lead_organisation_id is not None and lead_organisation_id not in parties:
        raise ValueError("the lead organisation is not a party")
    if linkage_level is LinkageLevel.COORDINATION and lead_organisation_id is None:
        raise ValueError("coordination needs a lead organisation")


class _AgreementState(EventData):
    """Everything an agreement says, as of this version."""

    topic: ClassVar[Topic] = DIRECTORY

    agreement_id: AgreementId = Field(description="the agreement's id in Overgang")
    version: int = Field(ge=1, le=10_000, description="the agreement's version, from 1")
    county_number: CountyNumber = Field(description="the county whose agreement it is")
    valid_from: dt.date = Field(description="the first day it applies")
    valid_until: dt.date | None = Field(
        None, description="the last day it applies; open-ended when absent"
    )
    parties: list[OrganisationId] = Field(
        min_length=2, max_length=100, description="the organisations that signed it"
    )
    linkage_level: LinkageLevel = Field(description="how closely the parties work together")
    lead_organisation_id: OrganisationId | None = Field(
        None, description="the party that leads shared cases; set when the level is coordination"
    )
    routes: list[Route] = Field(
        min_length=1, max_length=100, description="who may refer to whom, and for what"
    )
    target_groups: list[TargetGroup] = Field(
        min_length=1, max_length=20, description="whom the agreement is for"
    )
    guardian_consent_below_age: int = Field(
        18,
        ge=0,
        le=18,
        description="a person younger than this needs a guardian's consent (18 unless agreed)",
    )
    service_levels: ServiceLevels = Field(description="the deadlines the parties promise")
    actor: Actor = Field(description="the administrator who recorded it")
    occurred_at: AwareDatetime = Field(description="when it was recorded")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_agreement_terms(
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            parties=self.parties,
            lead_organisation_id=self.lead_organisation_id,
            linkage_level=self.linkage_level,
        )
        return self

    def partition_key(self) -> str:
        return str(self.agreement_id)

    def ce_subject(self) -> str:
        return str(self.agreement_id)


class AgreementRegisteredV1(_AgreementState):
    """A cooperation agreement was recorded, in its first version."""

    ce_type: ClassVar[str] = "no.overgang.agreement.registered.v1"


class AgreementAmendedV1(_AgreementState):
    """A cooperation agreement got a new version; the event carries the whole new version."""

    ce_type: ClassVar[str] = "no.overgang.agreement.amended.v1"


class TerminationReason(StrEnum):
    """Why an agreement ends before or at the end of its validity."""

    REPLACED = "replaced"
    ENDED_BY_PARTIES = "ended_by_parties"
    PARTY_CLOSED = "party_closed"
    OTHER = "other"


class AgreementTerminatedV1(EventData):
    """A cooperation agreement ends; no referral may be filed under it from `ends_on`."""

    ce_type: ClassVar[str] = "no.overgang.agreement.terminated.v1"
    topic: ClassVar[Topic] = DIRECTORY

    agreement_id: AgreementId = Field(description="the agreement")
    version: int = Field(ge=1, le=10_000, description="its last version")
    ends_on: dt.date = Field(description="the last day it applies")
    reason: TerminationReason = Field(description="why it ends")
    replaced_by_agreement_id: AgreementId | None = Field(
        None, description="the agreement that replaces it, if any"
    )
    actor: Actor = Field(description="the administrator who recorded it")
    occurred_at: AwareDatetime = Field(description="when it was recorded")

    def partition_key(self) -> str:
        return str(self.agreement_id)

    def ce_subject(self) -> str:
        return str(self.agreement_id)
