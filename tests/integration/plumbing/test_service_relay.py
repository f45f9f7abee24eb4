"""A running service migrates its database and relays what its outbox receives."""

import asyncio
import time

import asyncpg
import pytest
from fastapi.testclient import TestClient

from services.audit.app import AuditSettings, create_app
from services.plumbing.outbox import enqueue
from tests.conftest import NewTopicFactory
from tests.integration.plumbing.consumer_helpers import deadline_missed
from tests.integration.plumbing.outbox_helpers import Received, read_topic
from tests.servers import Servers

pytestmark = pytest.mark.integration


async def test_an_event_enqueued_in_a_services_database_reaches_kafka(
    servers: Servers, new_topic: NewTopicFactory, database_url: str
) -> None:
    topic = await new_topic("service", partitions=1)
    event = deadline_missed()
    app = create_app(
        AuditSettings(kafka_bootstrap=servers.kafka_bootstrap, database_url=database_url)
    )

    with TestClient(app) as client:
        deadline = time.monotonic() + 20
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the service did not become ready"
            await asyncio.sleep(0.1)
        connection = await asyncpg.connect(database_url)
        async with connection.transaction():
            await enqueue(connection, event, topic)
        received: list[Received] = []
        while not received:
            assert time.monotonic() < deadline, "the service's relay did not publish"
            received = await read_topic(servers.kafka_bootstrap, topic)
        # Marked sent once Kafka committed it (the marking runs just after the publish).
        sent_at = None
        while sent_at is None:
            assert time.monotonic() < deadline, "the relay did not mark the event sent"
            await asyncio.sleep(0.05)
            sent_at = await connection.fetchval(
                "SELECT sent_at FROM outbox WHERE event_id = $1", event.id
            )
        await connection.close()

    assert [r.event_id for r in received] == [str(event.id)]
    assert sent_at is not None
