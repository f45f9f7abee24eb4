"""Timelines and the access log, for auditors and administrators of a county: a small county's
events in, the expected timeline out; every read by an auditor recorded as an access event."""

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import asyncpg
import pytest
from fastapi.testclient import TestClient

from schemas.access import AccessPurpose, PersonalDataAccessedV1, Resource
from schemas.codes import Role
from schemas.deadlines import DeadlineApproachingV1, DeadlineKind, DeadlineMetV1
from schemas.envelope import CloudEvent
from schemas.person import ConsentGivenV1, SubjectRegisteredV1
from schemas.referrals import (
    ReferralAcceptedV1,
    ReferralContactRecordedV1,
    ReferralReceivedV1,
    ReferralSubmittedV1,
)
from services.audit.consumers import AuditTopics
from services.plumbing.binding import KafkaRecord, from_record, to_record
from tests.integration.audit.conftest import (
    START,
    Tokens,
    actor,
    changed,
    event,
    organisation,
    wait_for_rows,
)
from tests.integration.plumbing.consumer_helpers import publish
from tests.servers import Servers

pytestmark = pytest.mark.integration

PROBLEM_JSON = "application/problem+json"
# Vestland (46): a follow-up service and a NAV office; Oslo (03): a NAV office.
FOLLOW_UP, NAV, OSLO = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
AUDITOR_ORG = uuid.uuid4()  # Vestland's county education office, where the auditor works


def at(minutes: int) -> dt.datetime:
    return START + dt.timedelta(minutes=minutes)


class Scenario:
    """Two people: one followed up from Vestland's follow-up service to its NAV office, one
    handled in Oslo only."""

    def __init__(self) -> None:
        self.person = uuid.uuid4()
        self.other = uuid.uuid4()
        self.referral = uuid.uuid4()
        self.consent = uuid.uuid4()
        self.nav_counsellor = actor(NAV)
        referral: dict[str, Any] = {
            "referral_id": self.referral,
            "subject_id": self.person,
            "from_organisation_id": FOLLOW_UP,
            "to_organisation_id": NAV,
        }
        deadline: dict[str, Any] = {
            "referral_id": self.referral,
            "subject_id": self.person,
            "organisation_id": NAV,
        }
        filer = actor(FOLLOW_UP, Role.FILER)
        # In the order they happened; published out of order across topics.
        self.person_events = [
            event(
                SubjectRegisteredV1(subject_id=self.person, actor=filer, occurred_at=at(1)),
                at=at(1),
            ),
            event(
                changed(
                    ConsentGivenV1,
                    subject_id=self.person,
                    consent_id=self.consent,
                    recipient_organisation_ids=[NAV],
                    recipient_sectors=[],
                    actor=filer,
                    occurred_at=at(2),
                    expires_at=at(60 * 24 * 365),
                ),
                at=at(2),
            ),
            event(
                changed(
                    ReferralSubmittedV1,
                    **referral,
                    consent_id=self.consent,
                    statutory_basis=None,
                    actor=filer,
                    occurred_at=at(3),
                ),
                at=at(3),
            ),
            event(changed(ReferralReceivedV1, **referral, occurred_at=at(4)), at=at(4)),
            event(changed(ReferralAcceptedV1, **referral, occurred_at=at(6)), at=at(6)),
            event(changed(ReferralContactRecordedV1, **referral, occurred_at=at(7)), at=at(7)),
            event(
                SubjectRegisteredV1(subject_id=self.other, actor=actor(OSLO), occurred_at=at(1)),
                at=at(1),
            ),
        ]
        self.deadline_events = [
            event(
                changed(
                    DeadlineApproachingV1, **deadline, kind=DeadlineKind.DECIDE, occurred_at=at(5)
                ),
                at=at(5),
            ),
            event(
                changed(
                    DeadlineMetV1,
                    **deadline,
                    kind=DeadlineKind.FIRST_CONTACT,
                    met_at=at(7),
                    occurred_at=at(8),
                ),
                at=at(8),
            ),
        ]
        self.directory_events = [
            event(organisation(organisation_id, county))
            for organisation_id, county in (
                (FOLLOW_UP, "46"),
                (NAV, "46"),
                (AUDITOR_ORG, "46"),
                (OSLO, "03"),
            )
        ]
        self.nav_read = changed(
            PersonalDataAccessedV1,
            subject_id=self.person,
            actor=self.nav_counsellor,
            referral_id=self.referral,
            occurred_at=at(9),
        )
        self.oslo_read = changed(
            PersonalDataAccessedV1, subject_id=self.other, actor=actor(OSLO), occurred_at=at(9)
        )
        self.access_events = [event(self.nav_read), event(self.oslo_read)]

    @property
    def count(self) -> int:
        return sum(
            map(
                len,
                (
                    self.person_events,
                    self.deadline_events,
                    self.directory_events,
                    self.access_events,
                ),
            )
        )

    def publish(self, servers: Servers, topics: AuditTopics) -> None:
        person, directory, access, deadline = topics.domain

        async def send() -> None:
            await publish(servers, directory, [to_record(e) for e in self.directory_events])
            await publish(servers, deadline, [to_record(e) for e in self.deadline_events])
            await publish(servers, person, [to_record(e) for e in self.person_events])
            await publish(servers, access, [to_record(e) for e in self.access_events])

        asyncio.run(send())


@pytest.fixture
def scenario(
    client: TestClient, servers: Servers, audit_topics: AuditTopics, database_url: str
) -> Scenario:
    made = Scenario()
    made.publish(servers, audit_topics)
    wait_for_rows(database_url, made.count)
    return made


def auditor(tokens: Tokens, role: Role = Role.AUDITOR) -> dict[str, str]:
    return tokens.headers(AUDITOR_ORG, role)


def test_a_timeline_has_every_referral_consent_deadline_and_milestone_in_order(
    client: TestClient, tokens: Tokens, scenario: Scenario
) -> None:
    response = client.get(f"/v1/audit/timelines/{scenario.person}", headers=auditor(tokens))

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(item["kind"], item["step"]) for item in items] == [
        ("subject", "registered"),
        ("consent", "given"),
        ("referral", "submitted"),
        ("referral", "received"),
        ("deadline", "approaching"),
        ("referral", "accepted"),
        ("referral", "contact_recorded"),
        ("deadline", "met"),
    ]
    assert items[2]["data"]["consent_id"] == str(scenario.consent)
    assert all(item["data"].get("subject_id") == str(scenario.person) for item in items)
    assert response.json()["next_cursor"] is None


def test_a_timeline_comes_in_pages_that_add_up_to_the_whole(
    client: TestClient, tokens: Tokens, scenario: Scenario
) -> None:
    whole = client.get(f"/v1/audit/timelines/{scenario.person}", headers=auditor(tokens)).json()
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get(
            f"/v1/audit/timelines/{scenario.person}", params=params, headers=auditor(tokens)
        ).json()
        pages.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [item["sequence"] for item in pages] == [item["sequence"] for item in whole["items"]]


def test_a_person_seen_only_in_another_county_has_no_timeline_here(
    client: TestClient, tokens: Tokens, scenario: Scenario
) -> None:
    response = client.get(f"/v1/audit/timelines/{scenario.other}", headers=auditor(tokens))

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == "https://overgang.no/problems/no-timeline"


@pytest.mark.parametrize("role", [Role.FILER, Role.COUNSELLOR, Role.COORDINATOR])
def test_only_auditors_and_administrators_may_read(
    client: TestClient, tokens: Tokens, scenario: Scenario, role: Role
) -> None:
    for path in (f"/v1/audit/timelines/{scenario.person}", "/v1/audit/access", "/v1/audit/verify"):
        response = client.get(path, headers=auditor(tokens, role))

        assert response.status_code == 403
        assert response.json()["type"] == "https://overgang.no/problems/forbidden"


def test_an_administrator_of_the_county_may_read_too(
    client: TestClient, tokens: Tokens, scenario: Scenario
) -> None:
    response = client.get(
        f"/v1/audit/timelines/{scenario.person}", headers=auditor(tokens, Role.ADMIN)
    )

    assert response.status_code == 200


def test_an_organisation_outside_the_directory_sees_nothing(
    client: TestClient, tokens: Tokens, scenario: Scenario
) -> None:
    headers = tokens.headers(uuid.uuid4(), Role.AUDITOR)

    response = client.get(f"/v1/audit/timelines/{scenario.person}", headers=headers)

    assert response.status_code == 403
    assert response.json()["type"] == "https://overgang.no/problems/not-in-directory"


def test_no_token_is_unauthenticated(client: TestClient) -> None:
    response = client.get("/v1/audit/access")

    assert response.status_code == 401
    assert response.json()["type"] == "https://overgang.no/problems/unauthenticated"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/audit/access", {"who": "x"}, "who"),
        ("/v1/audit/access", {"limit": "0"}, "limit"),
        ("/v1/audit/access", {"subject_id": "not-a-uuid"}, "subject_id"),
        ("/v1/audit/verify", {"from": "-1"}, "from"),
        ("/v1/audit/verify", {"from": "3", "to": "2"}, "to"),
    ],
)
def test_inputs_are_strict(
    client: TestClient,
    tokens: Tokens,
    scenario: Scenario,
    path: str,
    params: dict[str, str],
    field: str,
) -> None:
    response = client.get(path, params=params, headers=auditor(tokens))

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_a_cursor_from_elsewhere_is_refused(
    client: TestClient, tokens: Tokens, scenario: Scenario
) -> None:
    response = client.get("/v1/audit/access", params={"cursor": "bm9wZQ"}, headers=auditor(tokens))

    assert response.status_code == 422
    assert response.json()["type"] == "https://overgang.no/problems/invalid-cursor"


def test_the_access_log_shows_who_read_whose_data_in_the_county(
    client: TestClient, tokens: Tokens, scenario: Scenario
) -> None:
    response = client.get("/v1/audit/access", headers=auditor(tokens))

    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]  # the Oslo read is another county's
    assert item["access_id"] == str(scenario.nav_read.access_id)
    assert item["actor_id"] == str(scenario.nav_counsellor.actor_id)
    assert item["subject_id"] == str(scenario.person)
    assert (item["purpose"], item["resource"]) == (
        scenario.nav_read.purpose.value,
        scenario.nav_read.resource.value,
    )
    by_actor = client.get(
        "/v1/audit/access", params={"actor_id": str(uuid.uuid4())}, headers=auditor(tokens)
    )
    assert by_actor.json()["items"] == []


def test_an_auditors_reads_are_recorded_and_come_back_in_the_access_log(
    client: TestClient,
    tokens: Tokens,
    scenario: Scenario,
    servers: Servers,
    audit_topics: AuditTopics,
    database_url: str,
) -> None:
    me = uuid.uuid4()
    headers = tokens.headers(AUDITOR_ORG, Role.AUDITOR, actor=me)
    assert client.get(f"/v1/audit/timelines/{scenario.person}", headers=headers).status_code == 200
    assert client.get("/v1/audit/access", headers=headers).status_code == 200

    recorded = _outbox(database_url)
    assert [(e.type, e.data["actor"]["actor_id"], e.data["subject_id"]) for e in recorded] == [
        (PersonalDataAccessedV1.ce_type, str(me), str(scenario.person)),
        (PersonalDataAccessedV1.ce_type, str(me), str(scenario.person)),
    ]
    assert {(e.data["purpose"], e.data["resource"]) for e in recorded} == {
        (AccessPurpose.AUDIT.value, Resource.TIMELINE.value)
    }
    # What the relay publishes to the access topic, the audit service consumes like any other.
    asyncio.run(publish(servers, audit_topics.domain[2], [to_record(e) for e in recorded]))
    wait_for_rows(database_url, scenario.count + 2)

    mine = client.get("/v1/audit/access", params={"actor_id": str(me)}, headers=headers).json()
    assert {item["access_id"] for item in mine["items"]} == {e.data["access_id"] for e in recorded}


def _outbox(database_url: str) -> list[CloudEvent]:
    async def read() -> list[CloudEvent]:
        connection = await asyncpg.connect(database_url)
        try:
            rows = await connection.fetch("SELECT headers, value FROM outbox ORDER BY position")
        finally:
            await connection.close()
        found: list[CloudEvent] = []
        for row in rows:
            headers = json.loads(row["headers"])
            record = KafkaRecord(
                key=b"k", value=row["value"], headers=[(n, v.encode()) for n, v in headers.items()]
            )
            found.append(from_record(record.key, record.value, record.headers))
        return found

    return asyncio.run(read())
