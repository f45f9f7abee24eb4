"""`/v1/subjects/{id}/consents` and `/v1/consents/{id}/withdraw` on the real PostgreSQL and
Kafka: recording a consent, who sees it, and withdrawing it, which cancels exactly the open
referrals that rest on it alone, in one transaction with the events in order."""

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import asyncpg
import pytest
from fastapi.testclient import TestClient

from schemas.codes import Role
from tests.integration.referral_api.conftest import PROBLEM_JSON, Tokens, outbox_types
from tests.integration.referral_api.county import County, act, file

pytestmark = pytest.mark.integration

PROBLEMS = "https://overgang.no/problems/"
GIVEN = "no.overgang.consent.given.v1"
WITHDRAWN = "no.overgang.consent.withdrawn.v1"
CANCELLED = "no.overgang.referral.cancelled.v1"
ACCESSED = "no.overgang.personal_data.accessed.v1"


def fetch(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(database_url)
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()

    return asyncio.run(run())


def consent_body(county: County, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "given_by": "person",
        "purposes": ["follow_up_outside_school_and_work"],
        "recipient_organisation_ids": [str(county.nav)],
        "recipient_sectors": [],
        "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=365)).isoformat(),
        "collection_method": "digital_id_porten",
    }
    body.update(changes)
    return body


def give(client: TestClient, county: County, **changes: Any) -> dict[str, Any]:
    response = client.post(
        f"/v1/subjects/{county.subject_id}/consents",
        json=consent_body(county, **changes),
        headers=county.filer(),
    )
    assert response.status_code == 201, response.text
    consent: dict[str, Any] = response.json()
    return consent


def on_consent(client: TestClient, county: County, consent: dict[str, Any]) -> dict[str, Any]:
    """A referral to NAV that rests on the consent alone."""
    return file(client, county, consent_id=consent["consent_id"], statutory_basis=None)


def coordinator(county: County, organisation: uuid.UUID) -> dict[str, str]:
    return county.tokens.headers(organisation, Role.COORDINATOR)


def listed(client: TestClient, county: County, headers: dict[str, str]) -> list[str]:
    response = client.get(f"/v1/subjects/{county.subject_id}/consents", headers=headers)
    assert response.status_code == 200, response.text
    return [consent["consent_id"] for consent in response.json()["items"]]


def test_a_filer_records_a_consent_and_its_event_goes_to_the_outbox(
    client: TestClient, county: County, database_url: str
) -> None:
    body = consent_body(county, recipient_sectors=["career_guidance"])

    response = client.post(
        f"/v1/subjects/{county.subject_id}/consents", json=body, headers=county.filer()
    )

    assert response.status_code == 201, response.text
    consent = response.json()
    assert consent["subject_id"] == county.subject_id
    assert consent["given_by"] == "person"
    assert consent["purposes"] == ["follow_up_outside_school_and_work"]
    assert consent["recipient_organisation_ids"] == [str(county.nav)]
    assert consent["recipient_sectors"] == ["career_guidance"]
    assert consent["collection_method"] == "digital_id_porten"
    assert consent["state"] == "active"
    assert consent["withdrawn_at"] is None
    assert dt.datetime.fromisoformat(consent["expires_at"]) == dt.datetime.fromisoformat(
        body["expires_at"]
    )
    assert outbox_types(database_url)[-1] == GIVEN
    stored = fetch(database_url, "SELECT subject_id FROM consents")
    assert [str(row["subject_id"]) for row in stored] == [county.subject_id]


def test_a_retried_consent_with_the_same_idempotency_key_is_recorded_once(
    client: TestClient, county: County, database_url: str
) -> None:
    headers = county.filer() | {"Idempotency-Key": "consent-1"}
    body = consent_body(county)
    path = f"/v1/subjects/{county.subject_id}/consents"

    first = client.post(path, json=body, headers=headers)
    again = client.post(path, json=body, headers=headers)
    other = client.post(path, json=consent_body(county, given_by="guardian"), headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["type"] == PROBLEMS + "idempotency-key-reused"
    assert outbox_types(database_url).count(GIVEN) == 1


def test_a_named_organisation_sees_the_consent_and_an_unnamed_one_does_not(
    client: TestClient, county: County, database_url: str
) -> None:
    named = give(client, county)
    by_sector = give(
        client, county, recipient_organisation_ids=[], recipient_sectors=["work_welfare"]
    )
    before = outbox_types(database_url)

    assert listed(client, county, coordinator(county, county.nav)) == [
        named["consent_id"],
        by_sector["consent_id"],
    ]
    # Another NAV office: named by its sector only.
    assert listed(client, county, coordinator(county, county.nav_east)) == [by_sector["consent_id"]]
    # The filer's organisation is named by neither, but recorded both.
    assert listed(client, county, county.filer()) == [named["consent_id"], by_sector["consent_id"]]
    assert listed(client, county, coordinator(county, uuid.uuid4())) == []
    assert outbox_types(database_url)[len(before) :] == [ACCESSED] * 4


def test_the_recording_organisation_can_withdraw_a_consent_no_referral_rests_on(
    client: TestClient, county: County, database_url: str
) -> None:
    consent = give(client, county, recipient_organisation_ids=[str(county.nav)])

    response = client.post(
        f"/v1/consents/{consent['consent_id']}/withdraw",
        json={"withdrawn_by": "person"},
        headers=county.filer(),
    )

    assert response.status_code == 200, response.text
    assert response.json()["consent"]["withdrawn_at"] is not None
    assert response.json()["consent"]["recorded_by_organisation_id"] == str(county.follow_up)
    assert listed(client, county, county.filer()) == [consent["consent_id"]]


def test_listing_consents_records_whose_data_was_read_and_why(
    client: TestClient, county: County, database_url: str
) -> None:
    give(client, county)

    listed(client, county, coordinator(county, county.nav))

    rows = fetch(
        database_url,
        "SELECT value FROM outbox WHERE headers->>'ce_type' = $1 ORDER BY position",
        ACCESSED,
    )
    event = json.loads(rows[-1]["value"])
    assert event["subject_id"] == county.subject_id
    assert event["resource"] == "consents"
    assert event["purpose"] == "case_handling"
    assert event["actor"]["organisation_id"] == str(county.nav)
    assert event["actor"]["role"] == "coordinator"


def test_withdrawal_cancels_exactly_the_open_referrals_resting_on_the_consent_alone(
    client: TestClient, county: County, database_url: str
) -> None:
    consent = give(client, county)
    other_consent = give(client, county)
    submitted = on_consent(client, county, consent)
    accepted = act(client, on_consent(client, county, consent), "receive", county.counsellor())
    accepted = act(client, accepted, "accept", county.counsellor())
    closed = act(
        client, on_consent(client, county, consent), "withdraw", county.filer(),
        {"reason": "no_longer_needed"},
    )  # fmt: skip
    also_statutory = file(client, county, consent_id=consent["consent_id"])
    statutory_only = file(client, county)
    on_other = on_consent(client, county, other_consent)
    before = outbox_types(database_url)

    response = client.post(
        f"/v1/consents/{consent['consent_id']}/withdraw",
        json={"withdrawn_by": "person"},
        headers=county.filer(),
    )

    assert response.status_code == 200, response.text
    withdrawal = response.json()
    assert withdrawal["consent"]["state"] == "withdrawn"
    assert withdrawal["consent"]["withdrawn_by"] == "person"
    assert sorted(withdrawal["cancelled_referral_ids"]) == sorted(
        [submitted["referral_id"], accepted["referral_id"]]
    )
    assert outbox_types(database_url)[len(before) :] == [WITHDRAWN, CANCELLED, CANCELLED]
    statuses = {
        str(row["referral_id"]): (row["status"], row["cancellation_reason"])
        for row in fetch(database_url, "SELECT * FROM referrals")
    }
    assert statuses == {
        submitted["referral_id"]: ("cancelled", "consent_withdrawn"),
        accepted["referral_id"]: ("cancelled", "consent_withdrawn"),
        closed["referral_id"]: ("withdrawn", None),
        also_statutory["referral_id"]: ("submitted", None),
        statutory_only["referral_id"]: ("submitted", None),
        on_other["referral_id"]: ("submitted", None),
    }
    # The receiver sees the cancellation, with the withdrawal's actor and the next version.
    read = client.get(f"/v1/referrals/{accepted['referral_id']}", headers=county.counsellor())
    assert read.json()["status"] == "cancelled"
    assert read.json()["version"] == accepted["version"] + 1
    listed_after = client.get(
        f"/v1/subjects/{county.subject_id}/consents", headers=coordinator(county, county.nav)
    ).json()["items"]
    assert {c["consent_id"]: c["state"] for c in listed_after} == {
        consent["consent_id"]: "withdrawn",
        other_consent["consent_id"]: "active",
    }


def test_a_withdrawn_consent_cannot_be_withdrawn_again_or_used_for_a_referral(
    client: TestClient, county: County, database_url: str
) -> None:
    consent = give(client, county)
    path = f"/v1/consents/{consent['consent_id']}/withdraw"
    headers = coordinator(county, county.nav)
    assert client.post(path, json={"withdrawn_by": "person"}, headers=headers).status_code == 200
    before = outbox_types(database_url)

    again = client.post(path, json={"withdrawn_by": "guardian"}, headers=headers)
    filing = client.post(
        "/v1/referrals",
        json=county.filing(consent_id=consent["consent_id"], statutory_basis=None),
        headers=county.filer(),
    )

    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM_JSON
    assert again.json()["type"] == PROBLEMS + "consent-already-withdrawn"
    assert filing.status_code == 422
    assert filing.json()["type"] == PROBLEMS + "consent-does-not-cover"
    assert outbox_types(database_url) == before
    row = fetch(database_url, "SELECT withdrawn_by FROM consents")[0]
    assert row["withdrawn_by"] == "person"


def test_an_organisation_that_does_not_see_a_consent_cannot_withdraw_it(
    client: TestClient, county: County, database_url: str
) -> None:
    consent = give(client, county)
    on_consent(client, county, consent)
    before = outbox_types(database_url)

    response = client.post(
        f"/v1/consents/{consent['consent_id']}/withdraw",
        json={"withdrawn_by": "person"},
        headers=coordinator(county, county.nav_east),
    )
    unknown = client.post(
        f"/v1/consents/{uuid.uuid4()}/withdraw",
        json={"withdrawn_by": "person"},
        headers=coordinator(county, county.nav),
    )

    assert response.status_code == 404
    assert response.json()["type"] == PROBLEMS + "not-found"
    assert unknown.status_code == 404
    assert outbox_types(database_url) == before
    assert fetch(database_url, "SELECT withdrawn_at FROM consents")[0]["withdrawn_at"] is None


@pytest.mark.parametrize(
    ("changes", "problem", "field"),
    [
        ({"colour": "blue"}, "invalid-request", "colour"),
        ({"purposes": ["fishing"]}, "invalid-request", "purposes.0"),
        ({"purposes": []}, "invalid-request", "purposes"),
        ({"given_by": "friend"}, "invalid-request", "given_by"),
        ({"collection_method": "telepathy"}, "invalid-request", "collection_method"),
        ({"recipient_sectors": ["space"]}, "invalid-request", "recipient_sectors.0"),
        ({"recipient_organisation_ids": ["not-a-uuid"]}, "invalid-request",
         "recipient_organisation_ids.0"),
        ({"expires_at": "2031-01-01T00:00:00"}, "invalid-request", "expires_at"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "invalid-consent", "body"),
        ({"recipient_organisation_ids": []}, "invalid-consent", "body"),
        ({"recipient_organisation_ids": [str(uuid.UUID(int=5))]}, "unknown-organisation",
         "recipient_organisation_ids"),
    ],
)  # fmt: skip
def test_a_bad_consent_is_a_422_problem_and_records_nothing(
    client: TestClient,
    county: County,
    database_url: str,
    changes: dict[str, Any],
    problem: str,
    field: str,
) -> None:
    before = outbox_types(database_url)

    response = client.post(
        f"/v1/subjects/{county.subject_id}/consents",
        json=consent_body(county, **changes),
        headers=county.filer(),
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == PROBLEMS + problem
    assert field in [error["field"] for error in response.json()["errors"]]
    assert outbox_types(database_url) == before
    assert fetch(database_url, "SELECT * FROM consents") == []


def test_a_bad_withdrawal_is_a_422_problem_and_withdraws_nothing(
    client: TestClient, county: County, database_url: str
) -> None:
    consent = give(client, county)
    path = f"/v1/consents/{consent['consent_id']}/withdraw"

    for body in ({"withdrawn_by": "friend"}, {"withdrawn_by": "person", "why": "x"}, {}):
        response = client.post(path, json=body, headers=county.filer())
        assert response.status_code == 422, body
        assert response.json()["type"] == PROBLEMS + "invalid-request"
    assert fetch(database_url, "SELECT withdrawn_at FROM consents")[0]["withdrawn_at"] is None


def test_a_consent_for_a_person_who_is_not_registered_is_404(
    client: TestClient, county: County, database_url: str
) -> None:
    before = outbox_types(database_url)
    path = f"/v1/subjects/{uuid.uuid4()}/consents"

    given = client.post(path, json=consent_body(county), headers=county.filer())
    read = client.get(path, headers=county.filer())

    assert (given.status_code, read.status_code) == (404, 404)
    assert given.json()["type"] == PROBLEMS + "not-found"
    assert outbox_types(database_url) == before


@pytest.mark.parametrize("role", [Role.COUNSELLOR, Role.ADMIN, Role.AUDITOR])
def test_only_filers_and_coordinators_handle_consents(
    client: TestClient, county: County, tokens: Tokens, database_url: str, role: Role
) -> None:
    consent = give(client, county)
    headers = tokens.headers(county.nav, role)
    before = outbox_types(database_url)

    responses = [
        client.post(
            f"/v1/subjects/{county.subject_id}/consents",
            json=consent_body(county),
            headers=headers,
        ),
        client.get(f"/v1/subjects/{county.subject_id}/consents", headers=headers),
        client.post(
            f"/v1/consents/{consent['consent_id']}/withdraw",
            json={"withdrawn_by": "person"},
            headers=headers,
        ),
    ]

    assert [response.status_code for response in responses] == [403, 403, 403]
    assert all(response.json()["type"] == PROBLEMS + "forbidden" for response in responses)
    assert outbox_types(database_url) == before
