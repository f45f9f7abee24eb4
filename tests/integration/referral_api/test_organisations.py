"""`/v1/organisations`: register, read, list and update the directory, each change an event."""

import uuid

import pytest
from fastapi.testclient import TestClient

from schemas.codes import Role
from tests.integration.referral_api.conftest import (
    PROBLEM_JSON,
    Tokens,
    organisation_body,
    outbox_types,
    register_organisation,
)

pytestmark = pytest.mark.integration

REGISTERED = "no.overgang.organisation.registered.v1"
UPDATED = "no.overgang.organisation.updated.v1"


def test_an_admin_registers_an_organisation_and_its_event_goes_to_the_outbox(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    response = client.post(
        "/v1/organisations",
        json=organisation_body(organisation_number="974760673"),
        headers=tokens.headers(uuid.uuid4(), Role.ADMIN),
    )

    assert response.status_code == 201
    entry = response.json()
    assert entry["name"] == "Oslo oppfølgingstjeneste"
    assert entry["organisation_number"] == "974760673"
    assert entry["municipality_numbers"] == ["0301"]
    uuid.UUID(entry["organisation_id"])
    assert outbox_types(database_url) == [REGISTERED]


def test_any_role_reads_an_organisation_and_lists_the_directory_page_by_page(
    client: TestClient, tokens: Tokens
) -> None:
    names = ["C skole", "A skole", "B skole"]
    ids = {register_organisation(client, tokens, name)["organisation_id"]: name for name in names}
    auditor = tokens.headers(uuid.uuid4(), Role.AUDITOR)

    first = client.get("/v1/organisations", params={"limit": 2}, headers=auditor).json()
    second = client.get(
        "/v1/organisations", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auditor
    ).json()
    one_id = next(iter(ids))
    one = client.get(f"/v1/organisations/{one_id}", headers=auditor)

    assert [item["name"] for item in first["items"] + second["items"]] == sorted(names)
    assert second["next_cursor"] is None
    assert one.status_code == 200
    assert one.json()["name"] == ids[one_id]


def test_an_admin_of_the_organisation_replaces_its_entry_and_the_change_is_an_event(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    organisation_id = register_organisation(client, tokens)["organisation_id"]

    response = client.put(
        f"/v1/organisations/{organisation_id}",
        json=organisation_body("Oslo OT", municipality_numbers=["0301", "3201"]),
        headers=tokens.headers(uuid.UUID(organisation_id), Role.ADMIN),
    )
    read = client.get(
        f"/v1/organisations/{organisation_id}",
        headers=tokens.headers(uuid.uuid4(), Role.FILER),
    )

    assert response.status_code == 200
    assert read.json()["name"] == "Oslo OT"
    assert read.json()["municipality_numbers"] == ["0301", "3201"]
    assert outbox_types(database_url) == [REGISTERED, UPDATED]


def test_an_admin_of_another_organisation_may_not_change_its_entry(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    organisation_id = register_organisation(client, tokens)["organisation_id"]

    response = client.put(
        f"/v1/organisations/{organisation_id}",
        json=organisation_body("Taken over"),
        headers=tokens.headers(uuid.uuid4(), Role.ADMIN),
    )

    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == "https://overgang.no/problems/forbidden"
    assert outbox_types(database_url) == [REGISTERED]


def test_an_organisation_that_is_not_registered_is_a_404_problem(
    client: TestClient, tokens: Tokens
) -> None:
    response = client.get(
        f"/v1/organisations/{uuid.uuid4()}", headers=tokens.headers(uuid.uuid4(), Role.FILER)
    )

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == "https://overgang.no/problems/not-found"


def test_a_second_organisation_with_the_same_organisation_number_is_a_409_problem(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    register_organisation(client, tokens, organisation_number="974760673")

    response = client.post(
        "/v1/organisations",
        json=organisation_body("Another", organisation_number="974760673"),
        headers=tokens.headers(uuid.uuid4(), Role.ADMIN),
    )

    assert response.status_code == 409
    assert response.json()["type"] == "https://overgang.no/problems/organisation-number-taken"
    assert response.json()["errors"][0]["field"] == "organisation_number"
    assert outbox_types(database_url) == [REGISTERED]


def test_a_cursor_that_the_list_did_not_make_is_a_422_problem_naming_the_cursor(
    client: TestClient, tokens: Tokens
) -> None:
    response = client.get(
        "/v1/organisations",
        params={"cursor": "not-a-cursor"},
        headers=tokens.headers(uuid.uuid4(), Role.FILER),
    )

    assert response.status_code == 422
    assert response.json()["type"] == "https://overgang.no/problems/invalid-cursor"
    assert response.json()["errors"][0]["field"] == "cursor"
