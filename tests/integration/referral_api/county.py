"""A small county for referral tests: a follow-up service that refers to a NAV office, which
may redirect to another, a person, and helpers to file and act through the API."""

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from schemas.codes import Role
from tests.integration.referral_api.conftest import (
    Tokens,
    agreement_body,
    identity_number,
    register_organisation,
)

NOTE = "Eleven ønsker hjelp til å finne læreplass."


@dataclass
class County:
    """A follow-up service that refers to a NAV office, which may redirect to another."""

    follow_up: uuid.UUID
    nav: uuid.UUID
    nav_east: uuid.UUID
    subject_id: str
    tokens: Tokens

    def filer(self) -> dict[str, str]:
        return self.tokens.headers(self.follow_up, Role.FILER)

    def counsellor(self, organisation: uuid.UUID | None = None) -> dict[str, str]:
        return self.tokens.headers(organisation or self.nav, Role.COUNSELLOR)

    def filing(self, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "subject_id": self.subject_id,
            "to_organisation_id": str(self.nav),
            "purpose": "follow_up_outside_school_and_work",
            "situation": "left_upper_secondary",
            "statutory_basis": "education_act_follow_up_service",
            "note": NOTE,
        }
        body.update(changes)
        return body


def make_county(client: TestClient, tokens: Tokens) -> County:
    follow_up = register_organisation(client, tokens, "Vestland oppfølgingstjeneste")
    nav = register_organisation(
        client, tokens, "NAV Bergenhus", type="nav_office", sector="work_welfare"
    )
    nav_east = register_organisation(
        client, tokens, "NAV Arna", type="nav_office", sector="work_welfare"
    )
    ids = [follow_up["organisation_id"], nav["organisation_id"], nav_east["organisation_id"]]
    body = agreement_body(ids)
    body["routes"].append(
        {
            "from_organisation": {"organisation_id": ids[1]},
            "to_organisation": {"organisation_id": ids[2]},
            "purposes": ["follow_up_outside_school_and_work"],
        }
    )
    admin = tokens.headers(uuid.UUID(ids[0]), Role.ADMIN)
    assert client.post("/v1/agreements", json=body, headers=admin).status_code == 201
    subject = client.post(
        "/v1/subjects",
        json={"identity_number": identity_number(), "birth_date": "2008-01-01"},
        headers=tokens.headers(uuid.UUID(ids[0]), Role.FILER),
    )
    assert subject.status_code == 201, subject.text
    return County(
        uuid.UUID(ids[0]),
        uuid.UUID(ids[1]),
        uuid.UUID(ids[2]),
        subject.json()["subject_id"],
        tokens,
    )


def file(client: TestClient, county: County, **changes: Any) -> dict[str, Any]:
    response = client.post("/v1/referrals", json=county.filing(**changes), headers=county.filer())
    assert response.status_code == 201, response.text
    referral: dict[str, Any] = response.json()
    return referral


def act(
    client: TestClient,
    referral: dict[str, Any],
    action: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The action on the referral's current version; the referral it leads to."""
    response = client.post(
        f"/v1/referrals/{referral['referral_id']}/{action}",
        json=body,
        headers=headers | {"If-Match": f'"{referral["version"]}"'},
    )
    assert response.status_code in (200, 201), response.text
    assert response.headers["etag"] == f'"{response.json()["version"]}"'
    changed: dict[str, Any] = response.json()
    return changed
