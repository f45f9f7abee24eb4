"""Idempotency-Key on creating POSTs: a retry gets the first response; another body with the
same key is refused and changes nothing."""

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


def test_a_retry_with_the_same_key_and_body_gets_the_first_response_and_changes_nothing(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    headers = tokens.headers(uuid.uuid4(), Role.ADMIN) | {"Idempotency-Key": "register-1"}

    first = client.post("/v1/organisations", json=organisation_body(), headers=headers)
    retry = client.post("/v1/organisations", json=organisation_body(), headers=headers)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert outbox_types(database_url) == ["no.overgang.organisation.registered.v1"]


def test_a_retried_registration_of_a_new_person_gets_201_again_not_200(
    client: TestClient, tokens: Tokens
) -> None:
    headers = tokens.headers(uuid.uuid4(), Role.FILER) | {"Idempotency-Key": "person-1"}
    person = {"identity_number": identity_number(), "birth_date": "2008-01-01"}

    first = client.post("/v1/subjects", json=person, headers=headers)
    retry = client.post("/v1/subjects", json=person, headers=headers)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()


def test_the_same_key_with_another_body_is_a_422_problem_and_changes_nothing(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    headers = tokens.headers(uuid.uuid4(), Role.ADMIN) | {"Idempotency-Key": "register-1"}
    client.post("/v1/organisations", json=organisation_body(), headers=headers)

    response = client.post("/v1/organisations", json=organisation_body("Other"), headers=headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == "https://overgang.no/problems/idempotency-key-reused"
    assert problem["errors"][0]["field"] == "Idempotency-Key"
    assert outbox_types(database_url) == ["no.overgang.organisation.registered.v1"]


def test_a_key_is_the_callers_own_so_another_caller_may_use_the_same_key(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    key = {"Idempotency-Key": "register-1"}

    first = client.post(
        "/v1/organisations",
        json=organisation_body("One"),
        headers=tokens.headers(uuid.uuid4(), Role.ADMIN) | key,
    )
    second = client.post(
        "/v1/organisations",
        json=organisation_body("Two"),
        headers=tokens.headers(uuid.uuid4(), Role.ADMIN) | key,
    )

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["organisation_id"] != second.json()["organisation_id"]
    assert len(outbox_types(database_url)) == 2
