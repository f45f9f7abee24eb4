"""Inbound events from other systems: another trust zone.

They may carry a national identity number. The referral service validates them strictly,
pseudonymises them at the door (the number becomes a subject_id) and sends what fails to the
dead-letter topic. Their records are keyed by the event id, never by the number, and their
CloudEvents subject is left out so that the number never reaches a header."""

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, ConfigDict, Field, model_validator
from stdnum.no import fodselsnummer

from schemas.envelope import EventData
from schemas.ids import OrganisationId, OrganisationNumber
from schemas.topics import INBOUND_SCHOOL, Topic


def _valid_identity_number(number: str) -> str:
    # Whatever python-stdnum accepts: fødselsnummer, D-numbers (day + 40) and H-numbers or
    # NAV's synthetic test numbers (month + 40). It refuses Skatteetaten's Tenor synthetic
    # numbers (month + 80), and as of 2.2 it checks the first check digit the pre-2032 way.
    # The message never repeats the number.
    if not fodselsnummer.is_valid(number):
        raise ValueError("not a valid national identity number (check digits or date)")
    return number


NationalIdentityNumber = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{11}$",
        description="the person's fødselsnummer or D-number, 11 digits with valid check digits "
        "(as python-stdnum validates them; synthetic test numbers only outside production)",
    ),
    AfterValidator(_valid_identity_number),
]


class LeftSchoolReason(StrEnum):
    """Why the school administration system says the pupil left."""

    DROPPED_OUT = "dropped_out"
    TRANSFERRED = "transferred"  # to another school
    MOVED = "moved"
    EMPLOYMENT = "employment"
    HEALTH = "health"
    OTHER = "other"


# In JSON Schema: the school by organisation number or by id, exactly one.
_ONE_SCHOOL: dict[str, Any] = {
    "oneOf": [
        {
            "required": ["school_organisation_number"],
            "properties": {"school_organisation_number": {"not": {"type": "null"}}},
        },
        {
            "required": ["school_organisation_id"],
            "properties": {"school_organisation_id": {"not": {"type": "null"}}},
        },
    ]
}


class PupilLeftSchoolV1(EventData):
    """A school administration system reports that a pupil left upper secondary school."""

    ce_type: ClassVar[str] = "no.overgang.inbound.pupil_left_school.v1"
    topic: ClassVar[Topic] = INBOUND_SCHOOL
    model_config = ConfigDict(json_schema_extra=_ONE_SCHOOL)

    school_organisation_number: OrganisationNumber | None = Field(
        None, description="the school, by its organisation number (or give its id)"
    )
    school_organisation_id: OrganisationId | None = Field(
        None, description="the school, by its organisation id in Overgang (or give its number)"
    )
    national_identity_number: NationalIdentityNumber = Field(description="the pupil")
    # Optional (added after release): the referral service needs it and never reads it out of
    # the identity number's digits; an event without it is dead-lettered there.
    birth_date: dt.date | None = Field(
        None, description="the pupil's birth date, as the school's records have it"
    )
    left_at: dt.date = Field(description="the pupil's last day at the school")
    reason: LeftSchoolReason = Field(description="why the pupil left")

    @model_validator(mode="after")
    def _one_school(self) -> Self:
        if (self.school_organisation_number is None) == (self.school_organisation_id is None):
            raise ValueError("give the school's organisation number or its id, exactly one")
        return self
