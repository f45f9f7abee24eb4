"""The referral service with its consumers and its HTTP event ingress, on this test's schema
and topics of its own, a county in its directory (tests.integration.referral_consumers), and
a dev token issuer of its own; requests go to the app over httpx."""

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent
from fastapi import FastAPI

from deploy.local.dev_issuer import ensure_keys, jwks_file
from schemas.codes import Role
from schemas.inbound import PupilLeftSchoolV1
from services.plumbing.dead_letters import dead_letter_topic
from services.plumbing.kafka import partitions_of
from services.referral.app import ReferralSettings, create_app
from services.referral.consumers import ConsumedTopics
from tests.integration.plumbing.consumer_helpers import eventually
from tests.integration.referral_api.conftest import Tokens
from tests.integration.referral_consumers.conftest import (
    SCHOOL_SOURCE,
    County,
    identity_number,
    register_county,
    years_ago,
)
from tests.servers import Servers

PROBLEM_JSON = "application/problem+json"
# Small, so that a test can pass it.
MAX_BATCH = 5


@dataclass
class Ingress:
    """The running referral service, a client of its API, where its ingress publishes, and a
    connection to its schema."""

    app: FastAPI
    client: httpx.AsyncClient
    servers: Servers
    topics: ConsumedTopics
    database: asyncpg.Connection
    county: County
    tokens: Tokens

    def school_system(self, *roles: Role) -> dict[str, str]:
        """The school's administration system's token: the school, as a filer."""
        return self.tokens.headers(self.county.school, *(roles or (Role.FILER,)))

    async def records(self) -> list["ConsumerRecord[bytes, bytes]"]:
        """Everything on the inbound topic, oldest first (read without a group)."""
        return await records_on(self.servers.kafka_bootstrap, self.topics.inbound_school)

    async def receipts(self) -> int:
        return int(await self.database.fetchval("SELECT count(*) FROM inbound_receipts"))

    async def until(self, query: str, expected: object, *args: object) -> None:
        async def there() -> bool:
            return bool(await self.database.fetchval(query, *args) == expected)

        await eventually(there, within_s=60)


async def records_on(bootstrap: str, topic: str) -> list["ConsumerRecord[bytes, bytes]"]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = await partitions_of(bootstrap, topic)
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        found: list[ConsumerRecord[bytes, bytes]] = []
        while any([await consumer.position(p) < end for p, end in ends.items()]):
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                found.extend(batch)
        return sorted(found, key=lambda record: (record.partition, record.offset))
    finally:
        await consumer.stop()


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    directory = tmp_path / "dev-issuer"
    ensure_keys(directory)
    return Tokens(directory)


def inbound_topics() -> ConsumedTopics:
    """Topics of this test's own for the service's consumers (not created yet)."""
    suffix = uuid.uuid4().hex[:12]
    return ConsumedTopics(
        inbound_school=f"test.inbound-school.{suffix}", deadline=f"test.deadline.{suffix}"
    )


async def create_topics(admin: AIOKafkaAdminClient, topics: ConsumedTopics) -> None:
    """The topics and their dead-letter topics; one partition each, so that a test's records
    are in the order sent."""
    names = [topics.inbound_school, topics.deadline]
    await admin.create_topics(
        [
            NewTopic(name, num_partitions=1, replication_factor=1)
            for name in [*names, *map(dead_letter_topic, names)]
        ]
    )


async def delete_topics(admin: AIOKafkaAdminClient, topics: ConsumedTopics) -> None:
    names = [topics.inbound_school, topics.deadline]
    await admin.delete_topics([*names, *map(dead_letter_topic, names)])


def settings_for(servers: Servers, schema: str, tokens: Tokens, **changes: Any) -> ReferralSettings:
    separator = "&" if "?" in servers.database_url else "?"
    url = f"{servers.database_url}{separator}{urlencode({'search_path': schema})}"
    return ReferralSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        database_url=url,
        auth_jwks=str(jwks_file(tokens.directory)),
        ingress_max_batch=MAX_BATCH,
        **changes,
    )


@pytest.fixture
async def ingress(
    servers: Servers, schema: str, kafka_admin: AIOKafkaAdminClient, tokens: Tokens
) -> AsyncIterator[Ingress]:
    topics = inbound_topics()
    await create_topics(kafka_admin, topics)
    settings = settings_for(servers, schema, tokens)
    app = create_app(settings, consumed_topics=topics)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://referral") as client:

                async def ready() -> bool:
                    return (await client.get("/readyz")).status_code == 200

                await eventually(ready, within_s=30)
                database = await asyncpg.connect(settings.database_url.get_secret_value())
                try:
                    async with database.transaction():
                        county = await register_county(database)
                    yield Ingress(app, client, servers, topics, database, county, tokens)
                finally:
                    await database.close()
    finally:
        await delete_topics(kafka_admin, topics)


def sdk_event(
    *,
    school: uuid.UUID | None = None,
    school_number: str | None = None,
    number: str | None = None,
    birth: dt.date | None = None,
    source: str = SCHOOL_SOURCE,
    event_id: str | None = None,
    **attributes: Any,
) -> SdkCloudEvent:
    """What a school administration system sends when a pupil leaves, built with the plain
    CloudEvents SDK (not Overgang's code)."""
    birth = birth or years_ago(18)
    data: dict[str, Any] = {
        "national_identity_number": number or identity_number(birth),
        "birth_date": birth.isoformat(),
        "left_at": (dt.date.today() - dt.timedelta(days=2)).isoformat(),
        "reason": "dropped_out",
    }
    if school_number is not None:
        data["school_organisation_number"] = school_number
    else:
        data["school_organisation_id"] = str(school)
    return SdkCloudEvent(
        {
            "type": PupilLeftSchoolV1.ce_type,
            "source": source,
            "id": event_id or str(uuid.uuid4()),
            "time": dt.datetime.now(dt.UTC),
            "datacontenttype": "application/json",
            **attributes,
        },
        data,
    )


def batch_body(*events: SdkCloudEvent) -> bytes:
    """A batch in the JSON batch format: an array of events each in the SDK's JSON format
    (the SDK has no batch writer of its own)."""
    return b"[" + b",".join(JSONFormat().write(event) for event in events) + b"]"


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response's problem, once it is checked to be RFC 9457 problem+json of `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = json.loads(response.content)
    assert problem["status"] == status
    assert problem["type"].startswith("https://overgang.no/problems/")
    assert problem["title"]
    assert problem["detail"]
    return problem


async def nothing_more(ingress: Ingress, records: int, receipts: int) -> None:
    """Nothing reached the topic or the receipts beyond what was there."""
    # A beat for anything sent in the background to land, had it been sent.
    await asyncio.sleep(0.2)
    assert len(await ingress.records()) == records
    assert await ingress.receipts() == receipts
