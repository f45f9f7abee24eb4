"""`/v1/referrals` on the real PostgreSQL and Kafka: filing, the lifecycle with ETag/If-Match,
redirects, worklists, bulk reassignment, who sees what, and refusals that change nothing."""

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from fastapi.testclient import TestClient

from schemas.codes import Role
from tests.integration.referral_api.conftest import PROBLEM_JSON, Tokens, outbox_types
from tests.integration.referral_api.county import NOTE, County, act, file

pytestmark = pytest.mark.integration

PROBLEMS = "https://overgang.no/problems/"


def referral_types(database_url: str) -> list[str]:
    return [t for t in outbox_types(database_url) if t.startswith("no.overgang.referral.")]


def test_filing_answers_201_with_the_referral_its_etag_and_location(
    client: TestClient, county: County, database_url: str
) -> None:
    response = client.post("/v1/referrals", json=county.filing(), headers=county.filer())

    assert response.status_code == 201, response.text
    referral = response.json()
    assert referral["status"] == "submitted"
    assert referral["version"] == 1
    assert referral["from_organisation_id"] == str(county.follow_up)
    assert referral["statutory_basis"] == "education_act_follow_up_service"
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/v1/referrals/{referral['referral_id']}"
    assert referral_types(database_url) == ["no.overgang.referral.submitted.v1"]


def test_opening_a_referral_shows_it_with_its_etag_and_records_the_access(
    client: TestClient, county: County, database_url: str
) -> None:
    referral = file(client, county)

    response = client.get(f"/v1/referrals/{referral['referral_id']}", headers=county.counsellor())

    assert response.status_code == 200
    assert response.json() == referral
    assert response.headers["etag"] == '"1"'
    assert outbox_types(database_url)[-1] == "no.overgang.personal_data.accessed.v1"


def test_a_referral_goes_through_its_whole_lifecycle_with_one_event_per_step(
    client: TestClient, county: County, database_url: str
) -> None:
    referral = file(client, county)
    nav = county.counsellor()

    referral = act(client, referral, "receive", nav)
    referral = act(client, referral, "accept", nav)
    referral = act(
        client, referral, "contacts", nav, {"method": "phone", "result": "reached", "note": "Ok"}
    )
    referral = act(client, referral, "start", nav)
    referral = act(client, referral, "follow-ups", nav, {"method": "meeting"})
    referral = act(client, referral, "complete", nav, {"outcome": "employment"})

    assert referral["status"] == "completed"
    assert referral["outcome"] == "employment"
    assert referral["version"] == 7
    assert [contact["result"] for contact in referral["contacts"]] == ["reached"]
    assert [follow_up["method"] for follow_up in referral["follow_ups"]] == ["meeting"]
    assert referral_types(database_url) == [
        "no.overgang.referral.submitted.v1",
        "no.overgang.referral.received.v1",
        "no.overgang.referral.accepted.v1",
        "no.overgang.referral.contact_recorded.v1",
        "no.overgang.referral.started.v1",
        "no.overgang.referral.follow_up_recorded.v1",
        "no.overgang.referral.completed.v1",
    ]
    history = client.get(f"/v1/referrals/{referral['referral_id']}/history", headers=nav).json()
    assert [entry["version"] for entry in history["items"]] == list(range(1, 8))
    assert history["items"][0]["note"] == NOTE
    assert history["items"][3]["note"] == "Ok"
    assert history["items"][1]["actor"]["organisation_id"] == str(county.nav)


def test_an_action_without_if_match_is_428_and_changes_nothing(
    client: TestClient, county: County, database_url: str
) -> None:
    referral = file(client, county)

    response = client.post(
        f"/v1/referrals/{referral['referral_id']}/receive", headers=county.counsellor()
    )

    assert response.status_code == 428
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == PROBLEMS + "precondition-required"
    assert referral_types(database_url) == ["no.overgang.referral.submitted.v1"]


def test_a_stale_if_match_is_412_with_the_current_version_and_changes_nothing(
    client: TestClient, county: County, database_url: str
) -> None:
    referral = file(client, county)
    act(client, referral, "receive", county.counsellor())

    response = client.post(
        f"/v1/referrals/{referral['referral_id']}/accept",
        headers=county.counsellor() | {"If-Match": '"1"'},
    )

    assert response.status_code == 412
    assert response.json()["type"] == PROBLEMS + "stale-version"
    assert response.json()["current_version"] == 2
    assert response.headers["etag"] == '"2"'
    assert referral_types(database_url)[-1] == "no.overgang.referral.received.v1"


def test_an_illegal_transition_is_409_with_the_current_status(
    client: TestClient, county: County, database_url: str
) -> None:
    referral = file(client, county)

    response = client.post(
        f"/v1/referrals/{referral['referral_id']}/complete",
        json={"outcome": "education"},
        headers=county.counsellor() | {"If-Match": '"1"'},
    )

    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == PROBLEMS + "illegal-transition"
    assert problem["current_status"] == "submitted"
    assert problem["action"] == "complete"
    assert referral_types(database_url) == ["no.overgang.referral.submitted.v1"]


def test_another_organisation_neither_sees_nor_acts_on_a_referral(
    client: TestClient, county: County, tokens: Tokens
) -> None:
    referral = file(client, county)
    stranger = tokens.headers(uuid.uuid4(), Role.COUNSELLOR, Role.COORDINATOR)
    path = f"/v1/referrals/{referral['referral_id']}"

    assert client.get(path, headers=stranger).status_code == 404
    assert client.get(f"{path}/history", headers=stranger).status_code == 404
    response = client.post(f"{path}/receive", headers=stranger | {"If-Match": '"1"'})
    assert response.status_code == 404
    assert client.get("/v1/referrals", headers=stranger).json()["items"] == []


def test_the_sender_may_not_act_for_the_receiver(client: TestClient, county: County) -> None:
    referral = file(client, county)
    sender = county.tokens.headers(county.follow_up, Role.COUNSELLOR)

    response = client.post(
        f"/v1/referrals/{referral['referral_id']}/receive", headers=sender | {"If-Match": '"1"'}
    )

    assert response.status_code == 403
    assert response.json()["type"] == PROBLEMS + "not-allowed"


def test_rejection_withdrawal_and_cancellation_carry_their_coded_reasons(
    client: TestClient, county: County, tokens: Tokens
) -> None:
    rejected = act(client, file(client, county), "receive", county.counsellor())
    rejected = act(client, rejected, "reject", county.counsellor(), {"reason": "outside_mandate"})
    withdrawn = act(
        client, file(client, county), "withdraw", county.filer(), {"reason": "filed_in_error"}
    )
    cancelled = act(
        client,
        file(client, county),
        "cancel",
        tokens.headers(county.nav, Role.ADMIN),
        {"reason": "duplicate"},
    )

    assert (rejected["status"], rejected["rejection_reason"]) == (
        "rejected",
        "outside_mandate",
    )
    assert (withdrawn["status"], withdrawn["withdrawal_reason"]) == ("withdrawn", "filed_in_error")
    assert (cancelled["status"], cancelled["cancellation_reason"]) == ("cancelled", "duplicate")


def test_a_redirect_changes_the_receiver_and_keeps_the_history(
    client: TestClient, county: County, database_url: str
) -> None:
    referral = act(client, file(client, county), "receive", county.counsellor())

    redirected = act(
        client,
        referral,
        "redirect",
        county.counsellor(),
        {
            "to_organisation_id": str(county.nav_east),
            "reason": "better_placed_elsewhere",
            "statutory_basis": "nav_act_cooperation",
        },
    )

    assert redirected["status"] == "redirected"
    assert redirected["to_organisation_id"] == str(county.nav_east)
    east = county.counsellor(county.nav_east)
    received = act(client, redirected, "receive", east)
    assert received["status"] == "received"
    # The previous receiver still sees what it took part in, and can no longer act.
    path = f"/v1/referrals/{referral['referral_id']}"
    assert client.get(path, headers=county.counsellor()).status_code == 200
    refused = client.post(
        f"{path}/accept", headers=county.counsellor() | {"If-Match": f'"{received["version"]}"'}
    )
    assert refused.status_code == 403
    history = client.get(f"{path}/history", headers=east).json()["items"]
    assert [entry["event_type"].split(".")[3] for entry in history] == [
        "submitted",
        "received",
        "redirected",
        "received",
    ]


def test_a_referral_without_an_agreement_route_is_refused_saying_why(
    client: TestClient, county: County, database_url: str
) -> None:
    response = client.post(
        "/v1/referrals",
        json=county.filing(to_organisation_id=str(county.nav_east)),
        headers=county.filer(),
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == PROBLEMS + "no-agreement-route"
    assert problem["errors"][0]["field"] == "to_organisation_id"
    assert problem["refusals"][0]["code"] == "no_route"
    assert referral_types(database_url) == []


def test_a_referral_without_consent_or_statutory_basis_is_refused_naming_both(
    client: TestClient, county: County, database_url: str
) -> None:
    response = client.post(
        "/v1/referrals", json=county.filing(statutory_basis=None), headers=county.filer()
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == PROBLEMS + "no-legal-basis"
    assert {error["field"] for error in problem["errors"]} == {"consent_id", "statutory_basis"}
    assert referral_types(database_url) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"subject_id": str(uuid.uuid4())}, "subject_id"),
        ({"to_organisation_id": str(uuid.uuid4())}, "to_organisation_id"),
        ({"consent_id": str(uuid.uuid4())}, "consent_id"),
        ({"purpose": "fishing"}, "purpose"),
        ({"colour": "blue"}, "colour"),
        ({"note": "x" * 4001}, "note"),
    ],
)
def test_a_bad_filing_is_422_naming_the_field_and_files_nothing(
    client: TestClient, county: County, database_url: str, changes: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/referrals", json=county.filing(**changes), headers=county.filer())

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert field in [error["field"] for error in response.json()["errors"]]
    assert referral_types(database_url) == []


def test_a_retried_filing_with_the_same_idempotency_key_files_once(
    client: TestClient, county: County, database_url: str
) -> None:
    headers = county.filer() | {"Idempotency-Key": "filing-1"}
    token_headers = county.filer()
    # The same user retries: the key is per organisation and user.
    headers["Authorization"] = token_headers["Authorization"]
    first = client.post("/v1/referrals", json=county.filing(), headers=headers)
    again = client.post("/v1/referrals", json=county.filing(), headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["etag"] == '"1"'
    assert again.headers["idempotent-replayed"] == "true"
    assert referral_types(database_url) == ["no.overgang.referral.submitted.v1"]


def test_the_worklists_show_received_and_sent_filtered_and_paged(
    client: TestClient, county: County
) -> None:
    filed = [file(client, county) for _ in range(5)]
    act(client, filed[0], "receive", county.counsellor())

    def ids(path: str, headers: dict[str, str]) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            url = path + ("&" if "?" in path else "?") + "limit=2"
            if cursor:
                url += f"&cursor={cursor}"
            page = client.get(url, headers=headers).json()
            seen += [item["referral_id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return seen

    every = [referral["referral_id"] for referral in filed]
    assert ids("/v1/referrals", county.counsellor()) == every
    assert ids("/v1/referrals?box=sent", county.filer()) == every
    assert ids("/v1/referrals?box=received", county.filer()) == []
    assert ids("/v1/referrals?status=received", county.counsellor()) == every[:1]
    assert ids("/v1/referrals?status=submitted&status=received", county.counsellor()) == every
    assert ids("/v1/referrals?overdue=true", county.counsellor()) == []
    bad = client.get("/v1/referrals?cursor=nonsense", headers=county.counsellor())
    assert bad.status_code == 422
    assert bad.json()["type"] == PROBLEMS + "invalid-cursor"


def test_assignment_and_bulk_reassignment_when_a_counsellor_leaves(
    client: TestClient, county: County, database_url: str
) -> None:
    coordinator = county.tokens.headers(county.nav, Role.COORDINATOR)
    leaving, taking_over = uuid.uuid4(), uuid.uuid4()
    assigned = [
        act(
            client,
            file(client, county),
            "assign",
            coordinator,
            {"assignee_id": str(leaving), "assignee_role": "counsellor"},
        )
        for _ in range(3)
    ]
    listed = client.get(f"/v1/referrals?counsellor={leaving}", headers=coordinator).json()
    assert len(listed["items"]) == 3

    response = client.post(
        "/v1/referrals/reassignments",
        json={
            "from_counsellor_id": str(leaving),
            "assignee_id": str(taking_over),
            "assignee_role": "counsellor",
        },
        headers=coordinator,
    )

    assert response.status_code == 200, response.text
    assert sorted(response.json()["reassigned"]) == sorted(r["referral_id"] for r in assigned)
    assert (
        client.get(f"/v1/referrals?counsellor={leaving}", headers=coordinator).json()["items"] == []
    )
    mine = client.get(f"/v1/referrals?counsellor={taking_over}", headers=coordinator).json()
    assert len(mine["items"]) == 3
    assert referral_types(database_url).count("no.overgang.referral.assigned.v1") == 6


def test_notes_are_stored_only_as_ciphertext(
    client: TestClient, county: County, database_url: str
) -> None:
    file(client, county)

    async def dump() -> str:
        connection = await asyncpg.connect(database_url)
        try:
            rows = await connection.fetch("SELECT * FROM referral_history")
        finally:
            await connection.close()
        return repr([dict(row) for row in rows])

    assert NOTE.encode().hex() not in asyncio.run(dump())
    assert "Eleven" not in asyncio.run(dump())
