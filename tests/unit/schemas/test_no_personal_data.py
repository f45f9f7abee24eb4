"""Domain events cannot carry a name, an identity number or free text; the guard that says so
catches a model that could."""

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from schemas.envelope import EventData
from schemas.inbound import PupilLeftSchoolV1
from schemas.privacy import personal_data_risks
from schemas.registry import MODELS

DOMAIN_MODELS = [model for model in MODELS if not model.topic.inbound]


@pytest.mark.parametrize("model", DOMAIN_MODELS, ids=lambda model: model.__name__)
def test_a_domain_event_cannot_carry_personal_data(model: type[EventData]) -> None:
    assert [str(finding) for finding in personal_data_risks(model)] == []


def test_the_inbound_event_carries_the_identity_number_and_nothing_else_of_the_kind() -> None:
    assert [finding.path for finding in personal_data_risks(PupilLeftSchoolV1)] == [
        "PupilLeftSchoolV1.national_identity_number"
    ]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Contact(_Strict):
    method: str = Field(pattern=r"^(phone|meeting)$")
    note: str = Field(max_length=500)


class Visit(_Strict):
    place: str = Field(max_length=100, pattern=r"^[A-Za-z ]+$")


class LeakyReferralV1(_Strict):
    comment: str
    caseworker_name: str = Field(max_length=100)
    phone: str = Field(pattern=r"^[0-9]{8}$")
    identity_number: int = Field(ge=0)
    code: str = Field(pattern=r"[a-z]+")  # not anchored: a name passes
    contacts: list[Contact] = Field(max_length=10)
    steps: list[Visit | Contact] = Field(max_length=10)
    tags: list[str]
    extras: dict[str, str]
    anything: Any


class OrganisationRegisteredV1(_Strict):
    name: str


def test_the_guard_reports_every_way_a_model_could_carry_personal_data() -> None:
    findings = {finding.path: finding.problem for finding in personal_data_risks(LeakyReferralV1)}

    assert set(findings) == {
        "LeakyReferralV1.comment",
        "LeakyReferralV1.caseworker_name",
        "LeakyReferralV1.phone",
        "LeakyReferralV1.identity_number",
        "LeakyReferralV1.code",
        "LeakyReferralV1.contacts[].note",
        "LeakyReferralV1.steps[].place",
        "LeakyReferralV1.steps[].note",
        "LeakyReferralV1.tags",
        "LeakyReferralV1.tags[]",
        "LeakyReferralV1.extras",
        "LeakyReferralV1.anything",
    }
    assert "free text" in findings["LeakyReferralV1.comment"]
    assert "'91234567'" in findings["LeakyReferralV1.phone"]
    assert "'kari'" in findings["LeakyReferralV1.code"]
    assert "maxItems" in findings["LeakyReferralV1.tags"]


def test_the_allowed_organisation_name_must_still_be_bounded() -> None:
    assert [str(finding) for finding in personal_data_risks(OrganisationRegisteredV1)] == [
        "OrganisationRegisteredV1.name: allowed free text, but without maxLength"
    ]
