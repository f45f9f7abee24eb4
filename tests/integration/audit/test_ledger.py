"""The consent ledger: a few people's consent and referral events in, the expected ledger out
(worked out by hand below), scoped to the caller's county and recorded as a read."""

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import asyncpg
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from schemas.access import AccessPurpose, Resource
from schemas.codes import Purpose, Role
from schemas.envelope import CloudEvent
from schemas.person import ConsentExpiredV1, ConsentGivenV1, ConsentGiver, ConsentWithdrawnV1
from schemas.referrals import (
    CancellationReason,
    RedirectionReason,
    ReferralCancelledV1,
    ReferralRedirectedV1,
    ReferralSubmittedV1,
    StatutoryBasis,
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

# Vestland (46): a follow-up service, a NAV office, a career centre, the auditor's office.
FOLLOW_UP, NAV, CAREER, AUDITOR_ORG = (uuid.uuid4() for _ in range(4))
# Oslo (03): a NAV office and its auditor's office.
OSLO, OSLO_AUDITOR_ORG = uuid.uuid4(), uuid.uuid4()
FOLLOW_UP_PURPOSE = Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK


def at(day: int) -> dt.datetime:
    return START + dt.timedelta(days=day)


def given(subject: uuid.UUID, consent: uuid.UUID, day: int, **changes: Any) -> CloudEvent:
    fields: dict[str, Any] = {
        "subject_id": subject,
        "consent_id": consent,
        "given_by": ConsentGiver.PERSON,
        "purposes": [FOLLOW_UP_PURPOSE],
        "recipient_organisation_ids": [NAV],
        "recipient_sectors": [],
        "actor": actor(FOLLOW_UP, Role.FILER),
        "occurred_at": at(day),
        "expires_at": at(day + 365),
    }
    return event(changed(ConsentGivenV1, **(fields | changes)), at=at(day))


def submitted(subject: uuid.UUID, referral: uuid.UUID, day: int, **changes: Any) -> CloudEvent:
    fields: dict[str, Any] = {
        "referral_id": referral,
        "subject_id": subject,
        "from_organisation_id": FOLLOW_UP,
        "to_organisation_id": NAV,
        "purpose": FOLLOW_UP_PURPOSE,
        "consent_id": None,
        "statutory_basis": None,
        "actor": actor(FOLLOW_UP, Role.FILER),
        "occurred_at": at(day),
    }
    return event(changed(ReferralSubmittedV1, **(fields | changes)), at=at(day))


class People:
    """Anna: a consent used for a referral and its redirection (to a purpose it does not
    name), then withdrawn, which cancels the referral; a second consent that expired before
    the referral made under it; a referral on a statutory basis. Ola: only in Oslo. Kari: a
    referral under a consent whose giving the log never heard of."""

    def __init__(self) -> None:
        self.anna, self.ola, self.kari = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        self.first, self.second, self.unheard = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        self.oslo_consent = uuid.uuid4()
        self.r1, self.r2, self.r3, self.r4, self.r5 = (uuid.uuid4() for _ in range(5))
        nav = actor(NAV)
        self.person_events = [
            given(self.anna, self.first, 1),
            submitted(self.anna, self.r1, 2, consent_id=self.first),
            event(
                changed(
                    ReferralRedirectedV1,
                    referral_id=self.r1,
                    subject_id=self.anna,
                    from_organisation_id=FOLLOW_UP,
                    to_organisation_id=CAREER,
                    redirected_from_organisation_id=NAV,
                    reason=RedirectionReason.BETTER_PLACED_ELSEWHERE,
                    purpose=Purpose.CAREER_GUIDANCE,
                    consent_id=self.first,
                    statutory_basis=None,
                    actor=nav,
                    occurred_at=at(3),
                ),
                at=at(3),
            ),
            event(
                changed(
                    ConsentWithdrawnV1,
                    subject_id=self.anna,
                    consent_id=self.first,
                    withdrawn_by=ConsentGiver.PERSON,
                    actor=actor(FOLLOW_UP),
                    occurred_at=at(4),
                ),
                at=at(4),
            ),
            event(
                changed(
                    ReferralCancelledV1,
                    referral_id=self.r1,
                    subject_id=self.anna,
                    from_organisation_id=FOLLOW_UP,
                    to_organisation_id=CAREER,
                    reason=CancellationReason.CONSENT_WITHDRAWN,
                    consent_id=self.first,
                    actor=actor(FOLLOW_UP),
                    occurred_at=at(4),
                ),
                at=at(4),
            ),
            given(self.anna, self.second, 5, expires_at=at(6)),
            event(
                changed(
                    ConsentExpiredV1,
                    subject_id=self.anna,
                    consent_id=self.second,
                    occurred_at=at(6),
                ),
                at=at(6),
            ),
            submitted(self.anna, self.r2, 7, consent_id=self.second),
            submitted(
                self.anna,
                self.r3,
                8,
                statutory_basis=StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE,
            ),
            given(
                self.ola,
                self.oslo_consent,
                1,
                recipient_organisation_ids=[OSLO],
                actor=actor(OSLO),
            ),
            submitted(
                self.ola,
                self.r4,
                2,
                from_organisation_id=OSLO,
                to_organisation_id=OSLO,
                consent_id=self.oslo_consent,
                actor=actor(OSLO),
            ),
            submitted(self.kari, self.r5, 2, consent_id=self.unheard),
        ]
        self.directory_events = [
            event(organisation(organisation_id, county))
            for organisation_id, county in (
                (FOLLOW_UP, "46"),
                (NAV, "46"),
                (CAREER, "46"),
                (AUDITOR_ORG, "46"),
                (OSLO, "03"),
                (OSLO_AUDITOR_ORG, "03"),
            )
        ]

    @property
    def count(self) -> int:
        return len(self.person_events) + len(self.directory_events)

    def publish(self, servers: Servers, topics: AuditTopics) -> None:
        person, directory, _, _ = topics.domain

        async def send() -> None:
            await publish(servers, directory, [to_record(e) for e in self.directory_events])
            await publish(servers, person, [to_record(e) for e in self.person_events])

        asyncio.run(send())


@pytest.fixture
def people(
    client: TestClient, servers: Servers, audit_topics: AuditTopics, database_url: str
) -> People:
    made = People()
    made.publish(servers, audit_topics)
    wait_for_rows(database_url, made.count)
    return made


def ledger(
    client: TestClient, tokens: Tokens, subject: uuid.UUID, org: uuid.UUID = AUDITOR_ORG
) -> Response:
    response: Response = client.get(
        f"/v1/audit/consents/{subject}", headers=tokens.headers(org, Role.AUDITOR)
    )
    return response


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_the_ledger_says_which_consent_covered_which_handoff_and_when_it_ended(
    client: TestClient, tokens: Tokens, people: People
) -> None:
    response = ledger(client, tokens, people.anna)

    assert response.status_code == 200, response.text
    body = response.json()
    first, second = body["consents"]
    assert first["consent_id"] == str(people.first)
    assert (first["status"], first["given_at"], first["withdrawn_at"], first["expired_at"]) == (
        "withdrawn",
        iso(at(1)),
        iso(at(4)),
        None,
    )
    assert (first["given_by"], first["withdrawn_by"]) == ("person", "person")
    assert first["purposes"] == [FOLLOW_UP_PURPOSE.value]
    assert first["recipient_organisation_ids"] == [str(NAV)]
    assert first["expires_at"] == iso(at(366))
    assert first["recorded_by_organisation_id"] == str(FOLLOW_UP)
    assert [
        (
            h["step"],
            h["referral_id"],
            h["to_organisation_id"],
            h["purpose"],
            h["consent_in_force"],
            h["purpose_covered"],
        )
        for h in first["handoffs"]
    ] == [
        ("submitted", str(people.r1), str(NAV), FOLLOW_UP_PURPOSE.value, True, True),
        ("redirected", str(people.r1), str(CAREER), "career_guidance", True, False),
    ]
    assert first["cancelled_referral_ids"] == [str(people.r1)]

    assert second["consent_id"] == str(people.second)
    assert (second["status"], second["given_at"], second["expires_at"]) == (
        "expired",
        iso(at(5)),
        iso(at(6)),
    )
    assert (second["withdrawn_at"], second["expired_at"]) == (None, iso(at(6)))
    # Made a day after the consent expired: the log shows it was not in force.
    assert [(h["referral_id"], h["consent_in_force"], h["purpose_covered"]) for h in
            second["handoffs"]] == [(str(people.r2), False, True)]  # fmt: skip
    assert second["cancelled_referral_ids"] == []

    (statutory,) = body["statutory_handoffs"]
    assert (statutory["referral_id"], statutory["statutory_basis"], statutory["consent_id"]) == (
        str(people.r3),
        "education_act_follow_up_service",
        None,
    )
    assert statutory["occurred_at"] == iso(at(8))


def test_a_consent_the_log_never_saw_given_is_unknown(
    client: TestClient, tokens: Tokens, people: People
) -> None:
    (consent,) = ledger(client, tokens, people.kari).json()["consents"]

    assert (consent["consent_id"], consent["status"], consent["given_at"]) == (
        str(people.unheard),
        "unknown",
        None,
    )
    assert [(h["referral_id"], h["consent_in_force"]) for h in consent["handoffs"]] == [
        (str(people.r5), None)
    ]


def test_another_county_sees_nothing_of_the_person_and_its_own_people_only(
    client: TestClient, tokens: Tokens, people: People
) -> None:
    assert ledger(client, tokens, people.ola).status_code == 404
    hidden = ledger(client, tokens, people.anna, OSLO_AUDITOR_ORG)
    assert hidden.status_code == 404
    assert hidden.headers["content-type"] == "application/problem+json"

    oslo = ledger(client, tokens, people.ola, OSLO_AUDITOR_ORG).json()
    assert [c["consent_id"] for c in oslo["consents"]] == [str(people.oslo_consent)]
    assert [h["referral_id"] for h in oslo["consents"][0]["handoffs"]] == [str(people.r4)]


@pytest.mark.parametrize("role", [Role.FILER, Role.COUNSELLOR])
def test_only_auditors_and_administrators_read_the_ledger(
    client: TestClient, tokens: Tokens, people: People, role: Role
) -> None:
    response = client.get(
        f"/v1/audit/consents/{people.anna}", headers=tokens.headers(AUDITOR_ORG, role)
    )

    assert response.status_code == 403
    assert response.json()["type"] == "https://overgang.no/problems/forbidden"


def test_reading_the_ledger_is_recorded_as_a_read_of_the_persons_consents(
    client: TestClient, tokens: Tokens, people: People, database_url: str
) -> None:
    me = uuid.uuid4()
    response = client.get(
        f"/v1/audit/consents/{people.anna}",
        headers=tokens.headers(AUDITOR_ORG, Role.AUDITOR, actor=me),
    )
    assert response.status_code == 200

    (recorded,) = [e for e in outbox(database_url) if e.data["actor"]["actor_id"] == str(me)]
    assert recorded.data["subject_id"] == str(people.anna)
    assert (recorded.data["purpose"], recorded.data["resource"]) == (
        AccessPurpose.AUDIT.value,
        Resource.CONSENTS.value,
    )


def outbox(database_url: str) -> list[CloudEvent]:
    """What the audit service wrote to its outbox, in order."""

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
