"""`/v1/subjects`: register a person by identity number; the number never comes back."""

import uuid

import pytest
from fastapi.testclient import TestClient

from schemas.codes import Role
from tests.integration.referral_api.conftest import (
    PROBLEM_JSON,
    Tokens,
    identity_number,
    outbox_types,
)

pytestmark = pytest.mark.integration

SUBJECT_REGISTERED = "no.overgang.subject.registered.v1"


def _person(number: str) -> dict[str, str]:
    return {"identity_number": number, "birth_date": "2008-01-01", "name": "Kari Nordmann"}


def test_a_filer_registers_a_person_and_gets_a_subject_id_and_an_event_in_the_outbox(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    response = client.post(
        "/v1/subjects",
        json=_person(identity_number()),
        headers=tokens.headers(uuid.uuid4(), Role.FILER),
    )

    assert response.status_code == 201
    assert list(response.json()) == ["subject_id"]
    uuid.UUID(response.json()["subject_id"])
    assert outbox_types(database_url) == [SUBJECT_REGISTERED]


def test_the_same_person_registered_twice_gets_the_same_subject_id_and_one_event(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    number = identity_number()
    first = client.post(
        "/v1/subjects", json=_person(number), headers=tokens.headers(uuid.uuid4(), Role.FILER)
    )

    again = client.post(
        "/v1/subjects",
        json=_person(number[:6] + " " + number[6:]),
        headers=tokens.headers(uuid.uuid4(), Role.COORDINATOR),
    )

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert outbox_types(database_url) == [SUBJECT_REGISTERED]


def test_a_wrong_check_digit_is_a_422_problem_naming_the_field_without_the_number(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    number = identity_number()
    wrong = number[:10] + str((int(number[10]) + 1) % 10)

    response = client.post(
        "/v1/subjects", json=_person(wrong), headers=tokens.headers(uuid.uuid4(), Role.FILER)
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == "https://overgang.no/problems/invalid-identity-number"
    assert [error["field"] for error in problem["errors"]] == ["identity_number"]
    assert problem["errors"][0]["type"] == "wrong_check_digit"
    assert wrong not in response.text
    assert wrong[:6] not in response.text
    assert outbox_types(database_url) == []


def test_a_synthetic_number_is_refused_unless_the_setting_allows_it(
    client: TestClient, tokens: Tokens
) -> None:
    synthetic = identity_number(birth="014108")  # NAV's synthetic numbers: month + 40

    response = client.post(
        "/v1/subjects", json=_person(synthetic), headers=tokens.headers(uuid.uuid4(), Role.FILER)
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "synthetic_not_allowed"
    assert synthetic not in response.text


def test_an_unknown_field_is_a_422_problem_naming_it_without_echoing_the_number(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    number = identity_number()

    response = client.post(
        "/v1/subjects",
        json={**_person(number), "nickname": "Kari"},
        headers=tokens.headers(uuid.uuid4(), Role.FILER),
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "https://overgang.no/problems/invalid-request"
    assert [error["field"] for error in problem["errors"]] == ["nickname"]
    assert number not in response.text
    assert outbox_types(database_url) == []


def test_a_number_too_long_for_the_schema_is_refused_without_being_echoed(
    client: TestClient, tokens: Tokens
) -> None:
    too_long = identity_number() * 3

    response = client.post(
        "/v1/subjects", json=_person(too_long), headers=tokens.headers(uuid.uuid4(), Role.FILER)
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["identity_number"]
    assert identity_number() not in response.text
