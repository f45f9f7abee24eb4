"""When Kafka does not take the events, POST /v1/events answers 503 with Retry-After and
records nothing as received, so that the sender's resend is received like a first send."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat

from schemas.codes import Role
from schemas.topics import INBOUND_SCHOOL
from services.referral.app import create_app
from services.referral.consumers import ConsumedTopics
from tests.integration.plumbing.consumer_helpers import eventually
from tests.integration.referral_api.conftest import Tokens
from tests.integration.referral_consumers.conftest import register_county
from tests.integration.referral_ingress.conftest import (
    create_topics,
    delete_topics,
    inbound_topics,
    problem_of,
    records_on,
    sdk_event,
    settings_for,
)
from tests.servers import Servers, free_port

pytestmark = pytest.mark.integration


@asynccontextmanager
async def _service(
    servers: Servers,
    schema: str,
    tokens: Tokens,
    topics: ConsumedTopics,
    *,
    ingress_topic: str | None = None,
    **changes: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Connection, uuid.UUID]]:
    """The referral service once its schema is migrated (Kafka may not answer), a client, a
    connection to its schema, and its county's school; its ingress publishes to
    `ingress_topic` when given, where its consumers read otherwise."""
    settings = settings_for(servers, schema, tokens, **changes)
    app = create_app(settings, consumed_topics=topics)
    if ingress_topic is not None:
        app.state.ingress = replace(app.state.ingress, topics={INBOUND_SCHOOL.name: ingress_topic})
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://referral") as client:

            async def migrated() -> bool:
                return bool((await client.get("/readyz")).json()["checks"]["schema"] == "ok")

            await eventually(migrated, within_s=30)
            database = await asyncpg.connect(settings.database_url.get_secret_value())
            try:
                async with database.transaction():
                    county = await register_county(database)
                yield client, database, county.school
            finally:
                await database.close()


def _request(school: uuid.UUID, tokens: Tokens) -> tuple[bytes, dict[str, str], str]:
    event = sdk_event(school=school)
    message = to_structured(event, JSONFormat())
    headers = {**message.headers, **tokens.headers(school, Role.FILER)}
    return message.body, headers, event.get_id()


async def _receipts(database: asyncpg.Connection) -> int:
    return int(await database.fetchval("SELECT count(*) FROM inbound_receipts"))


async def test_kafka_out_of_reach_is_a_503_with_retry_after_and_nothing_received(
    servers: Servers, schema: str, tokens: Tokens
) -> None:
    # Nothing listens there: the service never connects to Kafka.
    unreachable = Servers(f"127.0.0.1:{free_port()}", servers.database_url, servers.origin)
    async with _service(unreachable, schema, tokens, ConsumedTopics()) as (client, db, school):
        body, headers, _ = _request(school, tokens)

        response = await client.post("/v1/events", content=body, headers=headers)

        problem = problem_of(response, 503)
        assert problem["type"].endswith("/kafka-unavailable")
        assert "not received" in problem["detail"]
        # RFC 9110, 10.2.3: Retry-After in seconds.
        assert int(response.headers["Retry-After"]) > 0
        assert await _receipts(db) == 0


async def test_a_topic_that_does_not_take_the_event_is_a_503_and_the_resend_is_received(
    servers: Servers, schema: str, tokens: Tokens, kafka_admin: AIOKafkaAdminClient
) -> None:
    # The ingress publishes to a topic that does not exist yet (the stack's Kafka creates
    # none when a producer asks), so Kafka cannot take the event in the second it waits.
    topics = inbound_topics()
    await create_topics(kafka_admin, topics)
    missing = f"test.missing.{uuid.uuid4().hex[:12]}"
    service = _service(
        servers, schema, tokens, topics, ingress_topic=missing, ingress_publish_timeout_s=1.0
    )
    try:
        async with service as (client, db, school):
            body, headers, event_id = _request(school, tokens)

            refused = await client.post("/v1/events", content=body, headers=headers)

            problem = problem_of(refused, 503)
            assert "did not acknowledge within 1 s" in problem["detail"]
            assert int(refused.headers["Retry-After"]) > 0
            assert await _receipts(db) == 0
            # Once Kafka takes it, the same request is received as a first send.
            await kafka_admin.create_topics(
                [NewTopic(missing, num_partitions=1, replication_factor=1)]
            )
            resent = await client.post("/v1/events", content=body, headers=headers)
            assert resent.status_code == 202, resent.text
            assert "Idempotent-Replayed" not in resent.headers
            records = await records_on(servers.kafka_bootstrap, missing)
            assert [record.key for record in records] == [event_id.encode()]
            assert await _receipts(db) == 1
    finally:
        await delete_topics(kafka_admin, topics)
        await kafka_admin.delete_topics([missing])
