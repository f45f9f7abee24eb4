"""Checkpoints: the service publishes its chain head now and then (through its outbox, to the
checkpoint topic on Kafka), publishes nothing new while nothing new is logged, and a log
rewritten as a whole (every hash recomputed, so the chain itself holds) is caught against the
latest checkpoint, by the API and by the command."""

import asyncio
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from fastapi.testclient import TestClient

from deploy.local.cli import main as overgang
from deploy.local.dev_issuer import jwks_file
from schemas.audit import AuditCheckpointV1
from schemas.codes import Role
from schemas.envelope import CloudEvent
from schemas.person import SubjectRegisteredV1
from services.audit.app import AuditSettings, create_app
from services.audit.consumers import AuditTopics
from services.audit.domain.chain import canonical, link, sha256
from services.audit.domain.checkpoints import Checkpoint
from services.audit.domain.entries import event_entry
from services.audit.store import checkpoints, log
from services.audit.usecases.checkpoints import publish_checkpoint
from services.plumbing.binding import to_record
from services.plumbing.outbox import OutboxRelay, RelaySettings
from tests.conftest import NewTopicFactory
from tests.integration.audit.conftest import (
    START,
    Tokens,
    actor,
    event,
    organisation,
    wait_for_rows,
)
from tests.integration.plumbing.consumer_helpers import publish
from tests.servers import Servers

pytestmark = pytest.mark.integration

AUDITOR_ORG = uuid.uuid4()
EVENTS = 6


@pytest.fixture
async def checkpoint_topic(new_topic: NewTopicFactory) -> str:
    return await new_topic("checkpoints", partitions=1)


@pytest.fixture
def relay(servers: Servers, database_url: str) -> Iterator[None]:
    """An outbox relay of this test's own (its own leader lock and transactional id: the
    service's relay may be standing by behind another test's, as they share one database)."""
    settings = RelaySettings(
        servers.kafka_bootstrap,
        transactional_id=f"audit-checkpoint-tests-{uuid.uuid4().hex[:8]}",
        leader_lock=secrets.randbelow(2**40) + 1,
    )
    relay = OutboxRelay(database_url, settings)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(relay.run(stop),))
    thread.start()
    yield
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)
    loop.close()


@pytest.fixture
def checkpointing(
    servers: Servers,
    database_url: str,
    tokens: Tokens,
    audit_topics: AuditTopics,
    checkpoint_topic: str,
    relay: None,
) -> Iterator[TestClient]:
    """The audit app publishing its head every 0.3 s to this test's checkpoint topic."""
    settings = AuditSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        database_url=database_url,
        auth_jwks=str(jwks_file(tokens.directory)),
        checkpoint_topic=checkpoint_topic,
        checkpoint_interval_s=0.3,
    )
    with TestClient(create_app(settings, topics=audit_topics)) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.1)
        yield client


def feed(servers: Servers, topics: AuditTopics, database_url: str) -> None:
    """A directory with the auditor's office, and a few people registered."""
    person, directory, _, _ = topics.domain
    office = [event(organisation(AUDITOR_ORG, "46"))]
    people = [
        event(
            SubjectRegisteredV1(
                subject_id=uuid.uuid4(), actor=actor(AUDITOR_ORG), occurred_at=START
            )
        )
        for _ in range(EVENTS - 1)
    ]

    async def send() -> None:
        await publish(servers, directory, [to_record(e) for e in office])
        await publish(servers, person, [to_record(e) for e in people])

    asyncio.run(send())
    wait_for_rows(database_url, EVENTS)


def latest(servers: Servers, topic: str, sequence: int, within_s: float = 30) -> Checkpoint:
    """The latest checkpoint on the topic, once it names `sequence`."""
    deadline = time.monotonic() + within_s
    while True:
        found = asyncio.run(checkpoints.latest_on_topic(servers.kafka_bootstrap, topic))
        if found is not None and found.sequence == sequence:
            return found
        assert time.monotonic() < deadline, f"no checkpoint of {sequence} on {topic}: {found}"
        time.sleep(0.2)


def verify(client: TestClient, tokens: Tokens) -> dict[str, object]:
    response = client.get("/v1/audit/verify", headers=tokens.headers(AUDITOR_ORG, Role.AUDITOR))
    assert response.status_code == 200, response.text
    found: dict[str, object] = response.json()
    return found


def fetch(database_url: str, query: str) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(database_url)
        try:
            return await connection.fetch(query)
        finally:
            await connection.close()

    return asyncio.run(run())


def rewrite_from(database_url: str, sequence: int) -> None:
    """What a database administrator could do: change one row's event and recompute every hash
    from there to the head, so that the chain itself holds again."""

    async def run() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            async with connection.transaction():
                await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
                rows = [row async for row in log.rows_between(connection, first=1, last=None)]
                previous = rows[sequence - 2].row_hash if sequence > 1 else None
                for row in rows[sequence - 1 :]:
                    entry = row.entry
                    if row.sequence == sequence:
                        assert entry.payload is not None
                        document = json.loads(entry.payload)
                        document["data"]["occurred_at"] = "2020-01-01T00:00:00Z"
                        payload = canonical(document)
                        entry = type(entry)(
                            **(vars(entry) | {"payload": payload, "payload_hash": sha256(payload)})
                        )
                    relinked = link(entry, after_sequence=row.sequence - 1, after_hash=previous)
                    await connection.execute(
                        """UPDATE audit_log SET payload = $2, payload_hash = $3,
                               previous_hash = $4, row_hash = $5 WHERE sequence = $1""",
                        row.sequence,
                        entry.payload,
                        entry.payload_hash,
                        relinked.previous_hash,
                        relinked.row_hash,
                    )
                    previous = relinked.row_hash
                await connection.execute("UPDATE audit_chain_head SET row_hash = $1", previous)
                await connection.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
        finally:
            await connection.close()

    asyncio.run(run())


def test_the_head_is_published_and_a_rewritten_log_is_caught_against_it(
    checkpointing: TestClient,
    tokens: Tokens,
    servers: Servers,
    audit_topics: AuditTopics,
    database_url: str,
    checkpoint_topic: str,
) -> None:
    feed(servers, audit_topics, database_url)
    (head,) = fetch(database_url, "SELECT sequence, row_hash FROM audit_chain_head")

    published = latest(servers, checkpoint_topic, EVENTS)
    assert published.row_hash == bytes(head["row_hash"])
    # (One may have been published before every event had arrived.)
    checkpoints = len(fetch(database_url, "SELECT * FROM audit_checkpoints"))
    intact = verify(checkpointing, tokens)
    assert (intact["ok"], intact["checkpoint_status"]) == (True, "matches")
    assert intact["checkpoint"] == {
        "sequence": EVENTS,
        "row_hash": bytes(head["row_hash"]).hex(),
        "occurred_at": published.occurred_at.isoformat().replace("+00:00", "Z"),
    }

    rewrite_from(database_url, 3)

    rewritten = verify(checkpointing, tokens)
    # The chain holds: only the checkpoint tells.
    assert (rewritten["problem"], rewritten["first_bad_sequence"]) == (None, None)
    assert rewritten["verified_rows"] == EVENTS
    assert (rewritten["ok"], rewritten["checkpoint_status"]) == (False, "differs")
    # Nothing new was logged: the rewritten head is not published in its place.
    time.sleep(1)
    assert latest(servers, checkpoint_topic, EVENTS).row_hash == published.row_hash
    assert len(fetch(database_url, "SELECT * FROM audit_checkpoints")) == checkpoints

    arguments = ["audit", "verify", "--database-url", database_url]
    arguments += ["--bootstrap", servers.kafka_bootstrap, "--checkpoint-topic", checkpoint_topic]
    assert overgang(arguments) == 1


def test_a_log_cut_short_is_caught_against_the_checkpoint(
    checkpointing: TestClient,
    tokens: Tokens,
    servers: Servers,
    audit_topics: AuditTopics,
    database_url: str,
    checkpoint_topic: str,
) -> None:
    feed(servers, audit_topics, database_url)
    latest(servers, checkpoint_topic, EVENTS)

    async def cut() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            async with connection.transaction():
                await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
                await connection.execute("DELETE FROM audit_log WHERE sequence > 4")
                await connection.execute(
                    """UPDATE audit_chain_head SET sequence = 4,
                           row_hash = (SELECT row_hash FROM audit_log WHERE sequence = 4)"""
                )
                await connection.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
        finally:
            await connection.close()

    asyncio.run(cut())

    found = verify(checkpointing, tokens)
    assert (found["problem"], found["verified_rows"]) == (None, 4)
    assert (found["ok"], found["checkpoint_status"]) == (False, "missing")


async def test_a_head_is_published_once_and_only_after_something_new_was_logged(
    pool: asyncpg.Pool,
) -> None:
    def logged(data: SubjectRegisteredV1 | AuditCheckpointV1) -> CloudEvent:
        return CloudEvent.of(data, source="/overgang/tests", event_id=uuid.uuid4(), time=START)

    async def append(cloud_event: CloudEvent) -> None:
        async with pool.acquire() as connection, connection.transaction():
            await log.append(connection, event_entry(cloud_event, topic="test", recorded_at=START))

    async def publish_now() -> AuditCheckpointV1 | None:
        async with pool.acquire() as connection:
            return await publish_checkpoint(
                connection, topic="test.checkpoints", now=START, new_id=uuid.uuid4
            )

    assert await publish_now() is None  # an empty log has no head
    registered = SubjectRegisteredV1(
        subject_id=uuid.uuid4(), actor=actor(AUDITOR_ORG), occurred_at=START
    )
    await append(logged(registered))
    first = await publish_now()
    assert first is not None
    assert first.sequence == 1
    assert await publish_now() is None

    # The checkpoint comes back through the audit topic and is logged; that alone calls for
    # no new one.
    await append(logged(first))
    assert await publish_now() is None

    await append(logged(registered.model_copy(update={"subject_id": uuid.uuid4()})))
    second = await publish_now()
    assert second is not None
    assert second.sequence == 3
    async with pool.acquire() as connection:
        enqueued = await connection.fetch("SELECT topic FROM outbox ORDER BY position")
    assert [row["topic"] for row in enqueued] == ["test.checkpoints", "test.checkpoints"]
