"""`/v1/audit/events`: the log's rows, filtered by type, person, organisation and time, a page
at a time by sequence, scoped to the caller's county."""

import asyncio
import datetime as dt
import uuid
from typing import Any

import asyncpg
import pytest
from fastapi.testclient import TestClient

from schemas.access import PersonalDataAccessedV1
from schemas.codes import Role
from schemas.deadlines import DeadlineMissedV1
from schemas.envelope import CloudEvent
from schemas.person import SubjectRegisteredV1
from schemas.referrals import ReferralAcceptedV1, ReferralReceivedV1
from services.audit.consumers import AuditTopics
from services.plumbing.binding import to_record
from tests.integration.audit.conftest import (
    START,
    Tokens,
    actor,
    changed,
    event,
    organisation,
    wait_for_rows,
)
from tests.integration.audit.test_ledger import outbox
from tests.integration.plumbing.consumer_helpers import publish
from tests.servers import Servers

pytestmark = pytest.mark.integration

# Vestland (46): a follow-up service, a NAV office, the auditor's office; Oslo (03): a NAV
# office and its auditor's office.
FOLLOW_UP, NAV, AUDITOR_ORG = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
OSLO, OSLO_AUDITOR_ORG = uuid.uuid4(), uuid.uuid4()
DIRECTORY = (
    (FOLLOW_UP, "46"),
    (NAV, "46"),
    (AUDITOR_ORG, "46"),
    (OSLO, "03"),
    (OSLO_AUDITOR_ORG, "03"),
)


def at(hours: int) -> dt.datetime:
    return START + dt.timedelta(hours=hours)


class Log:
    """Two people in Vestland (registered, a referral received and accepted, a deadline
    missed, a read) and one in Oslo (registered, read), each event an hour after the last."""

    def __init__(self) -> None:
        self.anna, self.per, self.ola = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        self.directory = [event(organisation(org, county)) for org, county in DIRECTORY]
        self.person: list[CloudEvent] = []
        self.deadline: list[CloudEvent] = []
        self.access: list[CloudEvent] = []
        hour = 0
        for subject in (self.anna, self.per):
            referral: dict[str, Any] = {
                "referral_id": uuid.uuid4(),
                "subject_id": subject,
                "from_organisation_id": FOLLOW_UP,
                "to_organisation_id": NAV,
            }
            self.person.append(
                event(
                    SubjectRegisteredV1(
                        subject_id=subject, actor=actor(FOLLOW_UP), occurred_at=at(hour)
                    ),
                    at=at(hour),
                )
            )
            self.person.append(
                event(
                    changed(ReferralReceivedV1, **referral, occurred_at=at(hour + 1)),
                    at=at(hour + 1),
                )
            )
            self.person.append(
                event(
                    changed(ReferralAcceptedV1, **referral, occurred_at=at(hour + 2)),
                    at=at(hour + 2),
                )
            )
            self.deadline.append(
                event(
                    changed(
                        DeadlineMissedV1,
                        referral_id=referral["referral_id"],
                        subject_id=subject,
                        organisation_id=NAV,
                        occurred_at=at(hour + 3),
                    ),
                    at=at(hour + 3),
                )
            )
            self.access.append(
                event(
                    changed(
                        PersonalDataAccessedV1,
                        access_id=uuid.uuid4(),
                        subject_id=subject,
                        actor=actor(NAV),
                        referral_id=referral["referral_id"],
                        occurred_at=at(hour + 4),
                    ),
                    at=at(hour + 4),
                )
            )
            hour += 5
        self.person.append(
            event(
                SubjectRegisteredV1(subject_id=self.ola, actor=actor(OSLO), occurred_at=at(hour)),
                at=at(hour),
            )
        )
        self.access.append(
            event(
                changed(
                    PersonalDataAccessedV1,
                    access_id=uuid.uuid4(),
                    subject_id=self.ola,
                    actor=actor(OSLO),
                    referral_id=None,
                    occurred_at=at(hour + 1),
                ),
                at=at(hour + 1),
            )
        )

    @property
    def events(self) -> list[CloudEvent]:
        return self.directory + self.person + self.deadline + self.access

    def in_vestland(self) -> list[CloudEvent]:
        """What a Vestland auditor may see: events naming one of its organisations."""
        vestland = {str(org) for org, county in DIRECTORY if county == "46"}
        return [e for e in self.events if vestland & names(e)]

    def publish(self, servers: Servers, topics: AuditTopics) -> None:
        person, directory, access, deadline = topics.domain

        async def send() -> None:
            await publish(servers, directory, [to_record(e) for e in self.directory])
            await publish(servers, person, [to_record(e) for e in self.person])
            await publish(servers, deadline, [to_record(e) for e in self.deadline])
            await publish(servers, access, [to_record(e) for e in self.access])

        asyncio.run(send())


def names(cloud_event: CloudEvent) -> set[str]:
    """The organisation ids an event's data names (what the log records of it)."""
    data = cloud_event.data
    found = {
        data.get(key) for key in ("organisation_id", "from_organisation_id", "to_organisation_id")
    }
    found.add((data.get("actor") or {}).get("organisation_id"))
    return {value for value in found if isinstance(value, str)}


@pytest.fixture
def log(client: TestClient, servers: Servers, audit_topics: AuditTopics, database_url: str) -> Log:
    made = Log()
    made.publish(servers, audit_topics)
    wait_for_rows(database_url, len(made.events))
    return made


def auditor(tokens: Tokens, org: uuid.UUID = AUDITOR_ORG, **changes: Any) -> dict[str, str]:
    return tokens.headers(org, Role.AUDITOR, **changes)


def every(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every row, following the cursors."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = client.get(
            "/v1/audit/events",
            params=params | ({"cursor": cursor} if cursor else {}),
            headers=headers,
        )
        assert page.status_code == 200, page.text
        found += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return found


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["event_id"] for item in items]


def test_the_rows_of_the_county_come_in_sequence_order_with_their_hashes(
    client: TestClient, tokens: Tokens, log: Log, database_url: str
) -> None:
    items = every(client, auditor(tokens))

    assert sorted(ids(items)) == sorted(str(e.id) for e in log.in_vestland())
    assert [item["sequence"] for item in items] == sorted(item["sequence"] for item in items)
    stored = rows(database_url)
    for item in items:
        row = stored[item["sequence"]]
        assert item["event_id"] == str(row["event_id"])
        assert item["type"] == row["type"]
        assert item["row_hash"] == bytes(row["row_hash"]).hex()
        assert item["previous_hash"] == bytes(row["previous_hash"]).hex()
        assert item["payload_hash"] == bytes(row["payload_hash"]).hex()
        assert item["organisation_ids"] == [str(org) for org in row["organisation_ids"]]
        assert item["subject_id"] == (None if row["subject_id"] is None else str(row["subject_id"]))


def test_pages_add_up_to_the_whole(client: TestClient, tokens: Tokens, log: Log) -> None:
    whole = every(client, auditor(tokens))
    paged = every(client, auditor(tokens), limit=2)

    assert paged == whole
    first = client.get("/v1/audit/events", params={"limit": 2}, headers=auditor(tokens)).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"] is not None


def test_rows_are_filtered_by_type_person_organisation_and_time(
    client: TestClient, tokens: Tokens, log: Log
) -> None:
    headers = auditor(tokens)
    vestland = log.in_vestland()

    by_type = every(client, headers, type=[ReferralAcceptedV1.ce_type, DeadlineMissedV1.ce_type])
    assert sorted(ids(by_type)) == sorted(
        str(e.id)
        for e in vestland
        if e.type in (ReferralAcceptedV1.ce_type, DeadlineMissedV1.ce_type)
    )
    assert len(by_type) == 4

    by_person = every(client, headers, subject_id=str(log.per))
    assert sorted(ids(by_person)) == sorted(
        str(e.id) for e in vestland if e.data.get("subject_id") == str(log.per)
    )
    assert len(by_person) == 5

    by_organisation = every(client, headers, organisation_id=str(FOLLOW_UP))
    assert sorted(ids(by_organisation)) == sorted(
        str(e.id) for e in vestland if str(FOLLOW_UP) in names(e)
    )

    # From hour 2 (included) to hour 6 (excluded): Anna's acceptance, missed deadline and
    # read, Per's registration; the directory's events are from START.
    by_time = every(client, headers, since=at(2).isoformat(), until=at(6).isoformat())
    assert sorted(ids(by_time)) == sorted(str(e.id) for e in vestland if at(2) <= e.time < at(6))
    assert len(by_time) == 4

    both = every(client, headers, subject_id=str(log.anna), type=DeadlineMissedV1.ce_type)
    assert ids(both) == [str(log.deadline[0].id)]


def test_another_county_sees_only_its_own_rows_and_a_filer_none(
    client: TestClient, tokens: Tokens, log: Log
) -> None:
    oslo = every(client, auditor(tokens, OSLO_AUDITOR_ORG))
    assert sorted(ids(oslo)) == sorted(
        str(e.id) for e in log.events if names(e) & {str(OSLO), str(OSLO_AUDITOR_ORG)}
    )
    assert every(client, auditor(tokens, OSLO_AUDITOR_ORG), subject_id=str(log.anna)) == []

    filer = client.get("/v1/audit/events", headers=tokens.headers(AUDITOR_ORG, Role.FILER))
    assert filer.status_code == 403


def test_asking_by_person_is_recorded_as_a_read_and_otherwise_not(
    client: TestClient, tokens: Tokens, log: Log, database_url: str
) -> None:
    me = uuid.uuid4()
    every(client, auditor(tokens, actor=me))
    every(client, auditor(tokens, actor=me), subject_id=str(log.anna))

    mine = [e for e in outbox(database_url) if e.data["actor"]["actor_id"] == str(me)]
    assert [(e.data["subject_id"], e.data["resource"]) for e in mine] == [
        (str(log.anna), "timeline")
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"subject_id": "nobody"}, "subject_id"),
        ({"since": "2026-09-14T08:00:00"}, "since"),
        ({"since": at(2).isoformat(), "until": at(1).isoformat()}, "until"),
        ({"type": "No Such Type"}, "type.0"),
        ({"limit": 0}, "limit"),
    ],
)
def test_inputs_are_strict(
    client: TestClient, tokens: Tokens, log: Log, params: dict[str, Any], field: str
) -> None:
    response = client.get("/v1/audit/events", params=params, headers=auditor(tokens))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]


def rows(database_url: str) -> dict[int, asyncpg.Record]:
    async def read() -> dict[int, asyncpg.Record]:
        connection = await asyncpg.connect(database_url)
        try:
            found = await connection.fetch("SELECT * FROM audit_log")
        finally:
            await connection.close()
        return {row["sequence"]: row for row in found}

    return asyncio.run(read())
