"""Who may call what: a bearer token always, and the role each endpoint needs."""

import uuid

import pytest
from fastapi.testclient import TestClient

from schemas.codes import Role
from tests.integration.referral_api.conftest import (
    PROBLEM_JSON,
    Tokens,
    identity_number,
    organisation_body,
    outbox_types,
)

pytestmark = pytest.mark.integration

_ENDPOINTS = [
    ("POST", "/v1/organisations"),
    ("GET", "/v1/organisations"),
    ("GET", f"/v1/organisations/{uuid.UUID(int=1)}"),
    ("PUT", f"/v1/organisations/{uuid.UUID(int=1)}"),
    ("POST", "/v1/agreements"),
    ("GET", "/v1/agreements"),
    ("GET", f"/v1/agreements/{uuid.UUID(int=1)}"),
    ("POST", "/v1/subjects"),
]


@pytest.mark.parametrize(("method", "path"), _ENDPOINTS)
def test_a_call_without_a_token_is_a_401_problem(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path, json={})

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"] == "https://overgang.no/problems/unauthenticated"


def test_a_token_from_another_issuer_is_a_401_problem(client: TestClient, tokens: Tokens) -> None:
    other = Tokens(tokens.directory.parent / "another-issuer")

    response = client.get("/v1/organisations", headers=other.headers(uuid.uuid4(), Role.ADMIN))

    assert response.status_code == 401
    assert response.json()["type"] == "https://overgang.no/problems/unauthenticated"


@pytest.mark.parametrize("role", [Role.FILER, Role.COUNSELLOR, Role.COORDINATOR, Role.AUDITOR])
def test_only_an_admin_registers_an_organisation(
    client: TestClient, tokens: Tokens, database_url: str, role: Role
) -> None:
    response = client.post(
        "/v1/organisations", json=organisation_body(), headers=tokens.headers(uuid.uuid4(), role)
    )

    assert response.status_code == 403
    assert response.json()["type"] == "https://overgang.no/problems/forbidden"
    assert outbox_types(database_url) == []


@pytest.mark.parametrize("role", [Role.COUNSELLOR, Role.ADMIN, Role.AUDITOR])
def test_only_a_filer_or_coordinator_registers_a_person(
    client: TestClient, tokens: Tokens, database_url: str, role: Role
) -> None:
    response = client.post(
        "/v1/subjects",
        json={"identity_number": identity_number(), "birth_date": "2008-01-01"},
        headers=tokens.headers(uuid.uuid4(), role),
    )

    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_JSON
    assert outbox_types(database_url) == []
