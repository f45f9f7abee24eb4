"""Inputs are bounded: a body past 64 KiB is a 413 and a body that is not JSON a 415, both as
problems, before anything is read or written. (An unknown field is a 422: test_subjects.py.)"""

import uuid
from collections.abc import Iterator

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

LIMIT = 64 * 1024


def _person(name: str) -> dict[str, str]:
    return {"identity_number": identity_number(), "birth_date": "2008-01-01", "name": name}


def test_a_body_past_the_limit_is_a_413_problem_and_nothing_is_written(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    response = client.post(
        "/v1/subjects",
        json=_person("K" * LIMIT),
        headers=tokens.headers(uuid.uuid4(), Role.FILER),
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == "https://overgang.no/problems/request-too-large"
    assert problem["max_bytes"] == LIMIT
    assert identity_number() not in response.text
    assert outbox_types(database_url) == []


def test_a_streamed_body_growing_past_the_limit_is_a_413_problem_and_nothing_is_written(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"identity_number": "' + identity_number().encode() + b'", "name": "'
        for _ in range(LIMIT // 1024 + 1):
            yield b"K" * 1024
        yield b'", "birth_date": "2008-01-01"}'

    response = client.post(
        "/v1/subjects",
        content=chunks(),
        headers={
            **tokens.headers(uuid.uuid4(), Role.FILER),
            "Content-Type": "application/json",
        },
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["type"] == "https://overgang.no/problems/request-too-large"
    assert outbox_types(database_url) == []


def test_a_body_within_the_limit_reaches_validation(client: TestClient, tokens: Tokens) -> None:
    response = client.post(
        "/v1/subjects",
        json=_person("K" * (LIMIT - 200)),
        headers=tokens.headers(uuid.uuid4(), Role.FILER),
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["name"]


def test_a_body_that_is_not_json_is_a_415_problem_and_nothing_is_written(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    response = client.post(
        "/v1/subjects",
        content=f"identity_number={identity_number()}&birth_date=2008-01-01",
        headers={**tokens.headers(uuid.uuid4(), Role.FILER), "Content-Type": "text/plain"},
    )

    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == "https://overgang.no/problems/unsupported-media-type"
    assert outbox_types(database_url) == []


def test_a_json_body_with_a_charset_is_accepted(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    response = client.post(
        "/v1/subjects",
        content=(
            f'{{"identity_number": "{identity_number()}", "birth_date": "2008-01-01"}}'
        ).encode(),
        headers={
            **tokens.headers(uuid.uuid4(), Role.FILER),
            "Content-Type": "application/json; charset=utf-8",
        },
    )

    assert response.status_code == 201, response.text
    assert outbox_types(database_url) == ["no.overgang.subject.registered.v1"]


def test_the_served_openapi_declares_problem_responses(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/v1/subjects"]["post"]

    problem = {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    assert operation["responses"]["422"]["content"] == {PROBLEM_JSON: problem}
    assert operation["responses"]["4XX"]["content"] == {PROBLEM_JSON: problem}
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_a_nul_character_in_stored_text_is_a_422_problem_and_nothing_is_written(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    response = client.post(
        "/v1/organisations",
        json=organisation_body("Oslo\u0000"),
        headers=tokens.headers(uuid.uuid4(), Role.ADMIN),
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == "https://overgang.no/problems/unstorable-text"
    assert outbox_types(database_url) == []
