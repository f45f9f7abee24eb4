"""`/v1/agreements`: an administrator of a party records an agreement; parties read it."""

import uuid

import pytest
from fastapi.testclient import TestClient

from schemas.codes import Role
from tests.integration.referral_api.conftest import (
    PROBLEM_JSON,
    Tokens,
    agreement_body,
    outbox_types,
    register_organisation,
)

pytestmark = pytest.mark.integration

AGREEMENT_REGISTERED = "no.overgang.agreement.registered.v1"


def _two_parties(client: TestClient, tokens: Tokens) -> list[str]:
    school = register_organisation(client, tokens, "Skole", type="school")
    service = register_organisation(client, tokens, "OT")
    return [school["organisation_id"], service["organisation_id"]]


def test_an_admin_of_a_party_records_an_agreement_and_its_event_goes_to_the_outbox(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    parties = _two_parties(client, tokens)

    response = client.post(
        "/v1/agreements",
        json=agreement_body(parties),
        headers=tokens.headers(uuid.UUID(parties[0]), Role.ADMIN),
    )

    assert response.status_code == 201, response.text
    agreement = response.json()
    assert agreement["version"] == 1
    assert sorted(agreement["parties"]) == sorted(parties)
    assert agreement["guardian_consent_below_age"] == 18
    assert outbox_types(database_url)[-1] == AGREEMENT_REGISTERED


def test_a_party_reads_and_lists_its_agreements_and_another_organisation_lists_none(
    client: TestClient, tokens: Tokens
) -> None:
    parties = _two_parties(client, tokens)
    created = client.post(
        "/v1/agreements",
        json=agreement_body(parties),
        headers=tokens.headers(uuid.UUID(parties[0]), Role.ADMIN),
    ).json()
    party = tokens.headers(uuid.UUID(parties[1]), Role.COUNSELLOR)

    read = client.get(f"/v1/agreements/{created['agreement_id']}", headers=party)
    listed = client.get("/v1/agreements", headers=party).json()
    outsider = client.get("/v1/agreements", headers=tokens.headers(uuid.uuid4(), Role.FILER))

    assert read.status_code == 200
    assert read.json() == created
    assert listed == {"items": [created], "next_cursor": None}
    assert outsider.json() == {"items": [], "next_cursor": None}


def test_an_admin_of_no_party_may_not_record_an_agreement(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    parties = _two_parties(client, tokens)

    response = client.post(
        "/v1/agreements",
        json=agreement_body(parties),
        headers=tokens.headers(uuid.uuid4(), Role.ADMIN),
    )

    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_JSON
    assert AGREEMENT_REGISTERED not in outbox_types(database_url)


def test_an_agreement_with_an_unregistered_party_is_a_422_problem_naming_the_parties(
    client: TestClient, tokens: Tokens, database_url: str
) -> None:
    school = register_organisation(client, tokens, "Skole", type="school")["organisation_id"]

    response = client.post(
        "/v1/agreements",
        json=agreement_body([school, str(uuid.uuid4())]),
        headers=tokens.headers(uuid.UUID(school), Role.ADMIN),
    )

    assert response.status_code == 422
    assert response.json()["type"] == "https://overgang.no/problems/unknown-organisation"
    assert response.json()["errors"][0]["field"] == "parties"
    assert AGREEMENT_REGISTERED not in outbox_types(database_url)


def test_a_party_lists_whom_it_may_refer_to_and_for_what(
    client: TestClient, tokens: Tokens
) -> None:
    parties = _two_parties(client, tokens)
    client.post(
        "/v1/agreements",
        json=agreement_body(parties),
        headers=tokens.headers(uuid.UUID(parties[0]), Role.ADMIN),
    )

    sender = client.get(
        "/v1/agreements/recipients", headers=tokens.headers(uuid.UUID(parties[0]), Role.FILER)
    )
    receiver = client.get(
        "/v1/agreements/recipients", headers=tokens.headers(uuid.UUID(parties[1]), Role.FILER)
    )

    assert sender.status_code == 200
    assert sender.json() == {
        "items": [
            {"organisation_id": parties[1], "purposes": ["follow_up_outside_school_and_work"]}
        ]
    }
    assert receiver.json() == {"items": []}  # the route goes one way
