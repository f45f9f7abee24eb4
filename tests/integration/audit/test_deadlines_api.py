"""`/v1/audit/deadlines` on the running app: two instances (and a third after a restart) scan
the same database and raise each notice once; auditors see their own county's open and
missed deadlines only, and nobody else sees any."""

import asyncio
import datetime as dt
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import asyncpg
import pytest
from fastapi.testclient import TestClient

from deploy.local.dev_issuer import jwks_file
from schemas.codes import Role
from schemas.envelope import CloudEvent
from services.audit.app import AuditSettings, create_app
from services.audit.consumers import AuditTopics
from services.plumbing.binding import to_record
from tests.integration.audit.conftest import START, Tokens, event, organisation, wait_for_rows
from tests.integration.audit.test_deadlines import County
from tests.integration.plumbing.consumer_helpers import publish
from tests.servers import Servers

pytestmark = pytest.mark.integration

# Thursday 17 September 2026, 12:00 UTC: a referral submitted on Monday morning and never
# acknowledged missed its deadline (the end of Wednesday); one received on Monday is due to
# be decided by the end of Thursday (approaching).
NOW = dt.datetime(2026, 9, 17, 12, tzinfo=dt.UTC)
PROBLEM_JSON = "application/problem+json"


class Scenario:
    """Vestland (46) with an auditor, Oslo (03) with an auditor, and an auditor in Trøndelag
    (50) where nothing happens."""

    def __init__(self) -> None:
        self.vestland, self.oslo = County(), County()
        self.vestland_auditor, self.oslo_auditor = uuid.uuid4(), uuid.uuid4()
        self.trondelag_auditor = uuid.uuid4()
        self.left_alone = self.vestland.referral()
        self.received = self.vestland.referral()
        self.in_oslo = self.oslo.referral()
        self.directory = [
            *self.vestland.organisations,
            event(organisation(self.vestland_auditor, "46")),
            *[
                event(organisation(organisation_id, "03"))
                for organisation_id in (self.oslo.follow_up, self.oslo.nav, self.oslo_auditor)
            ],
            event(organisation(self.trondelag_auditor, "50")),
            self.vestland.agreement_event(),
            oslo_agreement(self.oslo),
        ]
        self.person = [
            self.left_alone.submitted(0),
            self.received.submitted(0),
            self.received.received(1),
            self.in_oslo.submitted(0),
        ]


def oslo_agreement(county: County) -> CloudEvent:
    agreement = county.agreement_event()
    return agreement.model_copy(update={"data": agreement.data | {"county_number": "03"}})


@pytest.fixture
def topics(audit_topics: AuditTopics) -> AuditTopics:
    *_, deadline = audit_topics.domain
    return AuditTopics(domain=audit_topics.domain, inbound=audit_topics.inbound, deadlines=deadline)


class Clock:
    """The scanners' time: before anything happened until the test has fed the events (so
    that no scan runs ahead of a step still on its way), then NOW."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def start_instance(
    servers: Servers, database_url: str, tokens: Tokens, topics: AuditTopics, clock: Clock
) -> Iterator[Any]:
    """Starts audit instances on this test's schema and topics, their scanners on `clock`."""
    settings = AuditSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        database_url=database_url,
        auth_jwks=str(jwks_file(tokens.directory)),
        deadline_scan_interval_s=0.1,
    )
    with ExitStack() as running:

        def start() -> tuple[TestClient, ExitStack]:
            instance = ExitStack()
            client = instance.enter_context(
                TestClient(create_app(settings, topics=topics, clock=clock))
            )
            running.callback(instance.close)
            deadline = time.monotonic() + 30
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, client.get("/readyz").json()
                time.sleep(0.1)
            return client, instance

        yield start


def notices(database_url: str, topic: str) -> Counter[tuple[str, str, str]]:
    """How many of each (type, referral, kind) notice the outbox holds."""

    async def read() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(database_url)
        try:
            return await connection.fetch(
                "SELECT headers->>'ce_type' AS type, value FROM outbox WHERE topic = $1", topic
            )
        finally:
            await connection.close()

    found: Counter[tuple[str, str, str]] = Counter()
    for row in asyncio.run(read()):
        data = json.loads(row["value"])  # binary mode: the record's value is the data
        found[(row["type"], data["referral_id"], data["kind"])] += 1
    return found


def expected_notices(scenario: Scenario) -> Counter[tuple[str, str, str]]:
    def notice(kind: str, referral: uuid.UUID, deadline: str) -> tuple[str, str, str]:
        return (f"no.overgang.deadline.{kind}.v1", str(referral), deadline)

    return Counter(
        [
            notice("missed", scenario.left_alone.referral_id, "acknowledge"),
            notice("met", scenario.received.referral_id, "acknowledge"),
            notice("approaching", scenario.received.referral_id, "decide"),
            notice("missed", scenario.in_oslo.referral_id, "acknowledge"),
        ]
    )


def wait_for_notices(database_url: str, topic: str, expected: Counter[Any]) -> None:
    deadline = time.monotonic() + 60
    while notices(database_url, topic) != expected:
        assert time.monotonic() < deadline, notices(database_url, topic)
        time.sleep(0.1)


def test_two_instances_and_a_restart_raise_each_notice_once_and_list_by_county(
    servers: Servers,
    database_url: str,
    tokens: Tokens,
    topics: AuditTopics,
    start_instance: Any,
    clock: Clock,
) -> None:
    scenario = Scenario()
    first, _ = start_instance()
    _, second_instance = start_instance()
    asyncio.run(publish(servers, topics.domain[1], [to_record(e) for e in scenario.directory]))
    wait_for_rows(database_url, len(scenario.directory))
    asyncio.run(publish(servers, topics.domain[0], [to_record(e) for e in scenario.person]))
    wait_for_rows(database_url, len(scenario.directory) + len(scenario.person))
    clock.now = NOW

    expected = expected_notices(scenario)
    wait_for_notices(database_url, topics.deadlines, expected)
    time.sleep(1)  # ten more scans of each instance: still once each
    assert notices(database_url, topics.deadlines) == expected
    # A restart: one instance stops, another starts; still nothing twice.
    second_instance.close()
    third, _ = start_instance()
    time.sleep(1)
    assert notices(database_url, topics.deadlines) == expected

    vestland = tokens.headers(scenario.vestland_auditor, Role.AUDITOR)
    listed = third.get("/v1/audit/deadlines", headers=vestland)
    assert listed.status_code == 200, listed.json()
    items = listed.json()["items"]
    assert [(i["referral_id"], i["kind"], i["state"]) for i in items] == [
        (str(scenario.left_alone.referral_id), "acknowledge", "missed"),
        (str(scenario.received.referral_id), "decide", "open"),
    ]
    assert items[0]["organisation_id"] == str(scenario.vestland.nav)
    assert items[0]["due_at"] == "2026-09-16T22:00:00Z"
    assert items[1]["approaching_raised_at"] is not None
    assert listed.json()["next_cursor"] is None

    def kinds(client: TestClient, headers: dict[str, str], **query: Any) -> list[str]:
        answer = client.get("/v1/audit/deadlines", headers=headers, params=query)
        assert answer.status_code == 200, answer.json()
        return [f"{i['kind']}:{i['state']}" for i in answer.json()["items"]]

    assert kinds(first, vestland, state="missed") == ["acknowledge:missed"]
    assert kinds(first, vestland, state="open") == ["decide:open"]
    assert kinds(first, vestland, state=["open", "missed"]) == [
        "acknowledge:missed",
        "decide:open",
    ]
    assert kinds(first, vestland, organisation_id=str(scenario.vestland.nav)) == [
        "acknowledge:missed",
        "decide:open",
    ]
    assert kinds(first, vestland, organisation_id=str(scenario.oslo.nav)) == []

    # One at a time, by cursor.
    page = first.get("/v1/audit/deadlines", headers=vestland, params={"limit": 1}).json()
    assert [i["kind"] for i in page["items"]] == ["acknowledge"]
    page = first.get(
        "/v1/audit/deadlines",
        headers=vestland,
        params={"limit": 1, "cursor": page["next_cursor"]},
    ).json()
    assert [i["kind"] for i in page["items"]] == ["decide"]
    page = first.get(
        "/v1/audit/deadlines",
        headers=vestland,
        params={"limit": 1, "cursor": page["next_cursor"]},
    ).json()
    assert page == {"items": [], "next_cursor": None}

    # Oslo's auditor sees Oslo's; an administrator of Vestland sees Vestland's; Trøndelag's
    # auditor sees nothing.
    oslo = tokens.headers(scenario.oslo_auditor, Role.AUDITOR)
    assert [
        i["referral_id"] for i in first.get("/v1/audit/deadlines", headers=oslo).json()["items"]
    ] == [str(scenario.in_oslo.referral_id)]
    admin = tokens.headers(scenario.vestland_auditor, Role.ADMIN)
    assert kinds(first, admin) == ["acknowledge:missed", "decide:open"]
    trondelag = tokens.headers(scenario.trondelag_auditor, Role.AUDITOR)
    assert kinds(first, trondelag) == []


def test_only_auditors_and_administrators_of_a_known_organisation_may_list_deadlines(
    tokens: Tokens, start_instance: Any, servers: Servers, topics: AuditTopics, database_url: str
) -> None:
    client, _ = start_instance()
    vestland = County()
    asyncio.run(publish(servers, topics.domain[1], [to_record(e) for e in vestland.organisations]))
    wait_for_rows(database_url, len(vestland.organisations))

    for role in (Role.FILER, Role.COUNSELLOR, Role.COORDINATOR):
        answer = client.get("/v1/audit/deadlines", headers=tokens.headers(vestland.nav, role))
        assert answer.status_code == 403, role
        assert answer.headers["content-type"] == PROBLEM_JSON
    assert client.get("/v1/audit/deadlines").status_code == 401

    unknown = client.get("/v1/audit/deadlines", headers=tokens.headers(uuid.uuid4(), Role.AUDITOR))
    assert unknown.status_code == 403
    assert unknown.json()["type"].endswith("/not-in-directory")

    auditor = tokens.headers(vestland.nav, Role.AUDITOR)
    for query in ({"state": "met"}, {"colour": "red"}, {"cursor": "nonsense"}, {"limit": 0}):
        answer = client.get("/v1/audit/deadlines", headers=auditor, params=query)
        assert answer.status_code == 422, query
        assert answer.headers["content-type"] == PROBLEM_JSON
