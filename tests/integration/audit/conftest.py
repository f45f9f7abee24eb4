"""The audit service against the real PostgreSQL and Kafka: a migrated schema per test, topics
of its own, and a small county of events to feed it."""

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastapi.testclient import TestClient
from faststream.kafka import KafkaBroker

from deploy.local.dev_issuer import ensure_keys, issue, jwks_file
from schemas.actors import Actor
from schemas.codes import OrganisationType, Role, Sector
from schemas.directory import OrganisationRegisteredV1
from schemas.envelope import CloudEvent, EventData
from schemas.examples import example_of
from services.audit.app import AuditSettings, create_app
from services.audit.consumers import AuditTopics, audit_consumers, dead_letter_consumers
from services.plumbing.consumer import EventConsumer
from services.plumbing.dead_letters import DeadLetterPublisher
from services.plumbing.migrations import migrate, migrations_folder
from tests.conftest import NewTopicFactory
from tests.servers import Servers

E = TypeVar("E", bound=EventData)
START = dt.datetime(2026, 9, 14, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def database_url(servers: Servers, schema: str) -> str:
    """A URL whose connections use this test's own, empty schema."""
    separator = "&" if "?" in servers.database_url else "?"
    return f"{servers.database_url}{separator}{urlencode({'search_path': schema})}"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on this test's schema, migrated as the audit service migrates it."""
    pool: asyncpg.Pool = await asyncpg.create_pool(database_url, min_size=1, max_size=6)
    async with pool.acquire() as connection:
        await migrate(connection, migrations_folder("services.audit"))
    yield pool
    await pool.close()


@pytest.fixture
async def audit_topics(
    new_topic: NewTopicFactory, kafka_admin: AIOKafkaAdminClient
) -> AsyncIterator[AuditTopics]:
    """A person, a directory, an access, a deadline and an inbound topic of this test's own,
    each with its dead-letter topic."""
    person = await new_topic("person", partitions=3)
    directory = await new_topic("directory", partitions=1)
    access = await new_topic("access", partitions=1)
    deadline = await new_topic("deadline", partitions=1)
    inbound = await new_topic("inbound", partitions=1)
    dead_letters = [f"{topic}.dlq" for topic in (person, directory, access, deadline, inbound)]
    await kafka_admin.create_topics([NewTopic(name, 1, 1) for name in dead_letters])
    yield AuditTopics(domain=(person, directory, access, deadline), inbound=(inbound,))
    await kafka_admin.delete_topics(dead_letters)


def event(data: EventData, *, at: dt.datetime | None = None) -> CloudEvent:
    return CloudEvent.of(data, source="/overgang/tests", event_id=uuid.uuid4(), time=at or START)


def changed(model: type[E], **changes: Any) -> E:
    """The contract's example of `model`, with some fields changed (and validated again)."""
    return model.model_validate(example_of(model).model_dump() | changes)


def organisation(
    organisation_id: uuid.UUID, county_number: str, **changes: Any
) -> OrganisationRegisteredV1:
    return changed(
        OrganisationRegisteredV1,
        organisation_id=organisation_id,
        county_number=county_number,
        name="Testkontoret",
        type=OrganisationType.NAV_OFFICE,
        sector=Sector.WORK_WELFARE,
        organisation_number=None,
        **changes,
    )


def actor(organisation_id: uuid.UUID, role: Role = Role.COUNSELLOR) -> Actor:
    return Actor(actor_id=uuid.uuid4(), organisation_id=organisation_id, role=role)


class RunningAudit:
    """The audit service's consumers (domain and dead-letter topics) on a real broker, as
    create_service_app and the app's lifespan run them."""

    def __init__(self, servers: Servers, pool: asyncpg.Pool, topics: AuditTopics) -> None:
        self.broker = KafkaBroker(servers.kafka_bootstrap)
        self.dead_letter_publisher = DeadLetterPublisher(servers.kafka_bootstrap, "audit-tests")
        self.consumers = [
            EventConsumer.of(spec, pool=pool, dead_letters=self.dead_letter_publisher)
            for spec in audit_consumers(topics)
        ]
        self.dead_letter_consumers = dead_letter_consumers(pool, topics)
        for consumer in self.consumers:
            consumer.subscribe(self.broker)
        for dead_letter_consumer in self.dead_letter_consumers:
            dead_letter_consumer.subscribe(self.broker)

    async def __aenter__(self) -> "RunningAudit":
        await self.dead_letter_publisher.start()
        await self.broker.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.broker.stop()
        await self.dead_letter_publisher.stop()


async def log_count(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM audit_log")
    return count


async def logged(pool: asyncpg.Pool, expected: int) -> bool:
    return await log_count(pool) >= expected


@dataclass(frozen=True)
class Tokens:
    """Bearer tokens from this test's own dev issuer."""

    directory: Path

    def headers(
        self, organisation: uuid.UUID, *roles: Role, actor: uuid.UUID | None = None
    ) -> dict[str, str]:
        token = issue(self.directory, organisation=organisation, roles=roles, actor=actor)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    directory = tmp_path / "dev-issuer"
    ensure_keys(directory)
    return Tokens(directory)


@pytest.fixture
def client(
    servers: Servers, database_url: str, tokens: Tokens, audit_topics: AuditTopics
) -> Iterator[TestClient]:
    """The audit app on this test's schema and topics, started and ready."""
    settings = AuditSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        database_url=database_url,
        auth_jwks=str(jwks_file(tokens.directory)),
        # Its own: verify compares the log with the latest checkpoint on this topic.
        checkpoint_topic=f"{audit_topics.domain[0]}.checkpoints",
    )
    with TestClient(create_app(settings, topics=audit_topics)) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.1)
        yield client


def wait_for_rows(database_url: str, expected: int, *, within_s: float = 60) -> None:
    """Until the log has `expected` rows (the app's consumers run in its own thread)."""

    async def count() -> int:
        connection = await asyncpg.connect(database_url)
        try:
            found: int = await connection.fetchval("SELECT count(*) FROM audit_log")
            return found
        finally:
            await connection.close()

    deadline = time.monotonic() + within_s
    while (found := asyncio.run(count())) < expected:
        assert time.monotonic() < deadline, f"{found} rows of {expected}"
        time.sleep(0.1)
