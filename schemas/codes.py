"""Codes shared by several event types. A code is never free text: each value is listed here,
and adding one is a compatible change while removing one breaks consumers."""

from enum import StrEnum


class OrganisationType(StrEnum):
    """What kind of organisation it is."""

    SCHOOL = "school"
    FOLLOW_UP_SERVICE = "follow_up_service"  # the county's oppfølgingstjeneste (OT)
    NAV_OFFICE = "nav_office"
    CAREER_CENTRE = "career_centre"
    COUNTY_EDUCATION = "county_education"
    OTHER = "other"


class Sector(StrEnum):
    """The public sector an organisation belongs to."""

    EDUCATION = "education"
    WORK_WELFARE = "work_welfare"
    CAREER_GUIDANCE = "career_guidance"
    OTHER = "other"


class Role(StrEnum):
    """What a user may do on behalf of their organisation."""

    FILER = "filer"
    COUNSELLOR = "counsellor"
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Purpose(StrEnum):
    """Why a person is referred; agreements name the purposes each route allows."""

    FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK = "follow_up_outside_school_and_work"
    CAREER_GUIDANCE = "career_guidance"
    PRIOR_LEARNING_ASSESSMENT = "prior_learning_assessment"  # realkompetansevurdering
    WORK_ORIENTED_MEASURE = "work_oriented_measure"
    RETURN_TO_UPPER_SECONDARY = "return_to_upper_secondary"
