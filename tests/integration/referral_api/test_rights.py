"""The person's rights on the real PostgreSQL and Kafka: export of everything held about them,
restriction of processing, and erasure by destroying their key once retention allows, after
which nothing about them can be read, anywhere in the schema."""

import asyncio
import base64
import dataclasses
import datetime as dt
import json
import uuid
from typing import Any

import asyncpg
import pytest
from fastapi.testclient import TestClient

from schemas.codes import Role
from services.referral import crypto
from services.referral.app import ReferralSettings
from tests.integration.referral_api.conftest import PROBLEM_JSON, identity_number, outbox_types
from tests.integration.referral_api.county import NOTE as COUNTY_NOTE
from tests.integration.referral_api.county import County, act, file
from tests.integration.referral_api.test_consents import consent_body, fetch, give, on_consent

pytestmark = pytest.mark.integration

PROBLEMS = "https://overgang.no/problems/"
NUMBER = identity_number("140307", "512")
BIRTH_DATE = "2007-03-14"
NAME = "Ingrid Testdatter Vik"
CONTACT = "ingrid.vik@example.no"
NOTE = "Ingrid har vansker med lesing og trenger tett oppfølging."


@pytest.fixture
def ingrid(client: TestClient, county: County) -> County:
    """The county, about a person registered with a name and contact details."""
    response = client.post(
        "/v1/subjects",
        json={
            "identity_number": NUMBER,
            "birth_date": BIRTH_DATE,
            "name": NAME,
            "contact": CONTACT,
        },
        # With a key, so that the erasure scan covers what idempotency keeps too.
        headers=county.filer() | {"Idempotency-Key": "register-ingrid"},
    )
    assert response.status_code == 201, response.text
    return dataclasses.replace(county, subject_id=response.json()["subject_id"])


def admin(county: County, organisation: uuid.UUID | None = None) -> dict[str, str]:
    return county.tokens.headers(organisation or county.nav, Role.ADMIN)


def erase(client: TestClient, county: County, headers: dict[str, str] | None = None) -> Any:
    return client.post(f"/v1/subjects/{county.subject_id}/erase", headers=headers or admin(county))


def backdate_closed_referrals(database_url: str, by: dt.timedelta) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(
                "UPDATE referrals SET closed_at = closed_at - $1::interval"
                " WHERE closed_at IS NOT NULL",
                by,
            )
        finally:
            await connection.close()

    asyncio.run(run())


def _as_text(needle: bytes) -> tuple[str, ...]:
    """How a needle could appear in a text column: as itself, or, if binary, in hex or
    base64."""
    try:
        return (needle.decode(),)
    except UnicodeDecodeError:
        return (needle.hex(), base64.b64encode(needle).decode())


def occurrences(database_url: str, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Where each needle occurs in any column of any table of the test's schema: text-like
    columns as text (case-insensitive), bytea columns as bytes."""

    async def run() -> dict[str, list[str]]:
        connection = await asyncpg.connect(database_url)
        found: dict[str, list[str]] = {name: [] for name in needles}
        try:
            columns = await connection.fetch(
                """SELECT c.table_name, c.column_name, c.data_type
                   FROM information_schema.columns c
                   JOIN information_schema.tables t USING (table_schema, table_name)
                   WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"""
            )
            assert len(columns) > 50  # every table of the service and of the plumbing
            for column in columns:
                table = '"' + column["table_name"] + '"'
                name = '"' + column["column_name"] + '"'
                for label, needle in needles.items():
                    if column["data_type"] == "bytea":
                        where = f"position($1::bytea IN {name}) > 0"
                        arguments: list[object] = [needle]
                    else:
                        where = f"strpos(lower({name}::text), lower($1)) > 0"
                        arguments = list(_as_text(needle))
                    query = f"SELECT count(*) FROM {table} WHERE {where}"  # noqa: S608
                    for argument in arguments:
                        if await connection.fetchval(query, argument):
                            found[label].append(f"{column['table_name']}.{column['column_name']}")
                            break
        finally:
            await connection.close()
        return found

    return asyncio.run(run())


def test_an_export_holds_everything_about_the_person_and_is_recorded_as_an_access(
    client: TestClient, ingrid: County, database_url: str
) -> None:
    referral = act(client, file(client, ingrid, note=NOTE), "receive", ingrid.counsellor())
    referral = act(client, referral, "accept", ingrid.counsellor())
    act(
        client,
        referral,
        "contacts",
        ingrid.counsellor(),
        {"method": "phone", "result": "reached", "note": "Ringte"},
    )
    consent = give(client, ingrid)

    response = client.get(
        f"/v1/subjects/{ingrid.subject_id}/export",
        headers=ingrid.tokens.headers(ingrid.follow_up, Role.COORDINATOR),
    )

    assert response.status_code == 200, response.text
    export = response.json()
    assert export["subject_id"] == ingrid.subject_id
    assert export["personal_data"] | {"registered_at": None} == {
        "identity_number": NUMBER,
        "birth_date": BIRTH_DATE,
        "name": NAME,
        "contact": CONTACT,
        "registered_at": None,
        "restricted_at": None,
    }
    assert [c["consent_id"] for c in export["consents"]] == [consent["consent_id"]]
    [exported] = export["referrals"]
    assert exported["referral_id"] == referral["referral_id"]
    assert exported["status"] == "accepted"
    assert [step["note"] for step in exported["history"]] == [NOTE, None, None, "Ringte"]
    assert [contact["result"] for contact in exported["contacts"]] == ["reached"]
    assert outbox_types(database_url)[-1] == "no.overgang.personal_data.accessed.v1"
    [last] = fetch(database_url, "SELECT value FROM outbox ORDER BY position DESC LIMIT 1")
    event = json.loads(last["value"])
    assert (event["resource"], event["purpose"]) == ("export", "subject_rights_request")
    assert event["subject_id"] == ingrid.subject_id
    assert NAME not in last["value"].decode()


def test_only_an_organisation_with_dealings_with_the_person_exports_restricts_or_erases(
    client: TestClient, ingrid: County, database_url: str
) -> None:
    file(client, ingrid)
    stranger = uuid.uuid4()
    before = outbox_types(database_url)

    exported = client.get(
        f"/v1/subjects/{ingrid.subject_id}/export", headers=admin(ingrid, stranger)
    )
    restricted = client.post(
        f"/v1/subjects/{ingrid.subject_id}/restrict",
        json={"ground": "objection_pending"},
        headers=admin(ingrid, ingrid.nav_east),
    )
    erased = erase(client, ingrid, admin(ingrid, stranger))

    assert [r.status_code for r in (exported, restricted, erased)] == [404, 404, 404]
    assert all(r.json()["type"] == PROBLEMS + "not-found" for r in (exported, restricted, erased))
    assert outbox_types(database_url) == before


@pytest.mark.parametrize("role", [Role.FILER, Role.COUNSELLOR, Role.AUDITOR])
def test_rights_requests_need_an_admin_or_for_export_a_coordinator(
    client: TestClient, ingrid: County, database_url: str, role: Role
) -> None:
    file(client, ingrid)
    headers = ingrid.tokens.headers(ingrid.nav, role)
    before = outbox_types(database_url)
    base = f"/v1/subjects/{ingrid.subject_id}"

    responses = [
        client.get(f"{base}/export", headers=headers),
        client.post(f"{base}/restrict", json={"ground": "objection_pending"}, headers=headers),
        client.post(f"{base}/erase", headers=headers),
    ]
    coordinator = ingrid.tokens.headers(ingrid.nav, Role.COORDINATOR)
    by_coordinator = [
        client.post(f"{base}/restrict", json={"ground": "objection_pending"}, headers=coordinator),
        client.post(f"{base}/erase", headers=coordinator),
    ]

    assert [r.status_code for r in responses + by_coordinator] == [403] * 5
    assert all(r.headers["content-type"] == PROBLEM_JSON for r in responses)
    assert outbox_types(database_url) == before


def test_a_restricted_person_gets_no_new_referral_or_consent_but_can_be_read_and_withdraw(
    client: TestClient, ingrid: County, database_url: str
) -> None:
    consent = give(client, ingrid)
    referral = on_consent(client, ingrid, consent)

    response = client.post(
        f"/v1/subjects/{ingrid.subject_id}/restrict",
        json={"ground": "accuracy_contested"},
        headers=admin(ingrid),
    )

    assert response.status_code == 200, response.text
    assert response.json()["ground"] == "accuracy_contested"
    assert outbox_types(database_url)[-1] == "no.overgang.subject.restricted.v1"
    before = outbox_types(database_url)
    new_referral = client.post("/v1/referrals", json=ingrid.filing(), headers=ingrid.filer())
    new_consent = client.post(
        f"/v1/subjects/{ingrid.subject_id}/consents",
        json=consent_body(ingrid),
        headers=ingrid.filer(),
    )
    for refused in (new_referral, new_consent):
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"] == PROBLEMS + "processing-restricted"
    assert outbox_types(database_url) == before
    export = client.get(f"/v1/subjects/{ingrid.subject_id}/export", headers=admin(ingrid))
    assert export.status_code == 200
    assert export.json()["personal_data"]["restricted_at"] == response.json()["restricted_at"]
    path = f"/v1/referrals/{referral['referral_id']}"
    assert client.get(path, headers=ingrid.counsellor()).status_code == 200
    withdrawn = client.post(
        f"/v1/consents/{consent['consent_id']}/withdraw",
        json={"withdrawn_by": "person"},
        headers=ingrid.filer(),
    )
    assert withdrawn.status_code == 200
    assert withdrawn.json()["cancelled_referral_ids"] == [referral["referral_id"]]


def test_lifting_a_restriction_lets_the_person_be_referred_again(
    client: TestClient, ingrid: County, database_url: str
) -> None:
    file(client, ingrid)
    base = f"/v1/subjects/{ingrid.subject_id}"
    restricted = client.post(
        f"{base}/restrict", json={"ground": "accuracy_contested"}, headers=admin(ingrid)
    ).json()
    before = outbox_types(database_url)
    by_stranger = client.post(
        f"{base}/lift-restriction",
        json={"ground": "accuracy_verified"},
        headers=admin(ingrid, ingrid.nav_east),
    )
    by_filer = client.post(
        f"{base}/lift-restriction", json={"ground": "accuracy_verified"}, headers=ingrid.filer()
    )
    without_ground = client.post(f"{base}/lift-restriction", json={}, headers=admin(ingrid))
    assert [r.status_code for r in (by_stranger, by_filer, without_ground)] == [404, 403, 422]
    assert outbox_types(database_url) == before

    lifted = client.post(
        f"{base}/lift-restriction", json={"ground": "accuracy_verified"}, headers=admin(ingrid)
    )

    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["restricted_since"] == restricted["restricted_at"]
    assert lifted.json()["ground"] == "accuracy_verified"
    assert outbox_types(database_url)[len(before) :] == [
        "no.overgang.subject.restriction_lifted.v1"
    ]
    assert (
        client.post("/v1/referrals", json=ingrid.filing(), headers=ingrid.filer()).status_code
        == 201
    )
    export = client.get(f"{base}/export", headers=admin(ingrid))
    assert export.json()["personal_data"]["restricted_at"] is None
    again = client.post(
        f"{base}/lift-restriction", json={"ground": "accuracy_verified"}, headers=admin(ingrid)
    )
    assert again.status_code == 409
    assert again.json()["type"] == PROBLEMS + "not-restricted"


def test_a_bad_restriction_is_a_422_problem_and_restricts_nothing(
    client: TestClient, ingrid: County, database_url: str
) -> None:
    file(client, ingrid)
    path = f"/v1/subjects/{ingrid.subject_id}/restrict"

    for body in ({"ground": "because"}, {}, {"ground": "objection_pending", "x": 1}):
        response = client.post(path, json=body, headers=admin(ingrid))
        assert response.status_code == 422
        assert response.json()["type"] == PROBLEMS + "invalid-request"
    assert (
        fetch(database_url, "SELECT restricted_at FROM subjects WHERE restricted_at IS NOT NULL")
        == []
    )


def test_erasure_is_refused_while_a_referral_is_open(
    client: TestClient, ingrid: County, database_url: str
) -> None:
    file(client, ingrid)
    before = outbox_types(database_url)

    response = erase(client, ingrid)

    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == PROBLEMS + "retention-not-over"
    assert problem["open_referrals"] == 1
    assert outbox_types(database_url) == before
    assert (
        client.get(f"/v1/subjects/{ingrid.subject_id}/export", headers=admin(ingrid)).status_code
        == 200
    )


def test_erasure_is_refused_until_five_years_after_the_last_referral_closed(
    client: TestClient, ingrid: County, database_url: str
) -> None:
    referral = act(
        client, file(client, ingrid), "withdraw", ingrid.filer(), {"reason": "no_longer_needed"}
    )
    closed_at = fetch(database_url, "SELECT closed_at FROM referrals")[0]["closed_at"]

    refused = erase(client, ingrid)
    backdate_closed_referrals(database_url, dt.timedelta(days=365 * 5 - 2))
    still = erase(client, ingrid)

    assert refused.status_code == still.status_code == 409
    assert refused.json()["open_referrals"] == 0
    until = dt.datetime.fromisoformat(refused.json()["retained_until"])
    assert until == closed_at.replace(year=closed_at.year + 5)
    assert "no.overgang.subject.erased.v1" not in outbox_types(database_url)
    assert referral["status"] == "withdrawn"


def test_after_retention_erasure_destroys_the_key_and_leaves_nothing_readable(
    client: TestClient, ingrid: County, database_url: str
) -> None:
    consent = give(client, ingrid)
    referral = on_consent(client, ingrid, consent)
    referral = act(client, file(client, ingrid, note=NOTE), "receive", ingrid.counsellor())
    referral = act(
        client, referral, "reject", ingrid.counsellor(), {"reason": "outside_mandate", "note": NOTE}
    )
    withdrawal = client.post(
        f"/v1/consents/{consent['consent_id']}/withdraw",
        json={"withdrawn_by": "person"},
        headers=ingrid.filer(),
    )
    assert withdrawal.status_code == 200, withdrawal.text
    backdate_closed_referrals(database_url, dt.timedelta(days=365 * 5 + 2))
    keys = ReferralSettings().store_keys()
    subject_id = uuid.UUID(ingrid.subject_id)
    [row] = fetch(database_url, "SELECT * FROM subjects WHERE subject_id = $1", subject_id)
    wrapped_key = row["wrapped_key"]
    data_key = crypto.unwrap_key(wrapped_key, keys.master_key, subject_id)
    assert crypto.decrypt(row["identity_number"], data_key, subject_id) == NUMBER
    needles = {
        "identity number": NUMBER.encode(),
        "birth date": BIRTH_DATE.encode(),
        "birth date, Norwegian": b"14.03.2007",
        "name": NAME.encode(),
        "surname": b"Testdatter",
        "contact": CONTACT.encode(),
        "note": NOTE.encode(),
        "filing note": COUNTY_NOTE.encode(),
        "wrapped key": wrapped_key,
        "data key": data_key,
    }
    # The scan finds what is there: the key before erasure, and an organisation's name.
    before = occurrences(database_url, needles | {"directory": b"NAV Bergenhus"})
    assert "organisations.name" in before.pop("directory")
    assert before == {**{label: [] for label in needles}, "wrapped key": ["subjects.wrapped_key"]}

    response = erase(client, ingrid)

    assert response.status_code == 200, response.text
    assert response.json()["subject_id"] == ingrid.subject_id
    assert outbox_types(database_url)[-1] == "no.overgang.subject.erased.v1"
    assert occurrences(database_url, needles) == {label: [] for label in needles}
    [row] = fetch(database_url, "SELECT * FROM subjects WHERE subject_id = $1", subject_id)
    assert row["wrapped_key"] is None
    assert row["blind_index"] is None
    with pytest.raises(crypto.CannotDecrypt):
        crypto.unwrap_key(row["wrapped_key"], keys.master_key, subject_id)
    sealed = [row[c] for c in ("identity_number", "birth_date", "name", "contact")] + [
        note["sealed_note"]
        for note in fetch(
            database_url, "SELECT sealed_note FROM referral_history WHERE sealed_note IS NOT NULL"
        )
    ]
    # Four about the person, a note on each filing and one on the rejection.
    assert len(sealed) == 7
    for ciphertext in sealed:
        for key in (keys.master_key, keys.index_key):
            with pytest.raises(crypto.CannotDecrypt):
                crypto.decrypt(ciphertext, key, subject_id)


def test_after_erasure_every_endpoint_about_the_person_answers_410(
    client: TestClient, ingrid: County, database_url: str
) -> None:
    consent = give(client, ingrid)
    referral = act(
        client, file(client, ingrid), "withdraw", ingrid.filer(), {"reason": "no_longer_needed"}
    )
    backdate_closed_referrals(database_url, dt.timedelta(days=365 * 5 + 2))
    assert erase(client, ingrid).status_code == 200
    before = outbox_types(database_url)
    base = f"/v1/subjects/{ingrid.subject_id}"
    coordinator = ingrid.tokens.headers(ingrid.nav, Role.COORDINATOR)
    path = f"/v1/referrals/{referral['referral_id']}"

    responses = {
        "export": client.get(f"{base}/export", headers=admin(ingrid)),
        "restrict": client.post(
            f"{base}/restrict", json={"ground": "objection_pending"}, headers=admin(ingrid)
        ),
        "erase": erase(client, ingrid),
        "consents": client.get(f"{base}/consents", headers=coordinator),
        "give consent": client.post(
            f"{base}/consents", json=consent_body(ingrid), headers=ingrid.filer()
        ),
        "withdraw consent": client.post(
            f"/v1/consents/{consent['consent_id']}/withdraw",
            json={"withdrawn_by": "person"},
            headers=coordinator,
        ),
        "referral": client.get(path, headers=ingrid.filer()),
        "history": client.get(f"{path}/history", headers=ingrid.filer()),
        "file": client.post("/v1/referrals", json=ingrid.filing(), headers=ingrid.filer()),
    }

    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(responses, 410)
    assert all(r.json()["type"] == PROBLEMS + "subject-erased" for r in responses.values())
    assert outbox_types(database_url) == before
    # Registering the same number again finds nobody: the blind index went with the key.
    again = client.post(
        "/v1/subjects",
        json={"identity_number": NUMBER, "birth_date": BIRTH_DATE},
        headers=ingrid.filer(),
    )
    assert again.status_code == 201
    assert again.json()["subject_id"] != ingrid.subject_id
