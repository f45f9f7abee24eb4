"""The ingress served by uvicorn on a real socket, as a sending system meets it: the SDK's
binary-mode request, with percent-encoded non-ASCII header values, sent by httpx over TCP."""

import asyncio
import datetime as dt
import uuid

import asyncpg
import httpx
import pytest
import uvicorn
from aiokafka.admin import AIOKafkaAdminClient
from cloudevents.core.bindings.http import to_binary
from cloudevents.core.formats.json import JSONFormat

from schemas.codes import Role
from services.plumbing.binding import from_record
from services.referral.app import create_app
from tests.integration.plumbing.consumer_helpers import eventually
from tests.integration.referral_api.conftest import Tokens
from tests.integration.referral_consumers.conftest import register_county
from tests.integration.referral_ingress.conftest import (
    create_topics,
    delete_topics,
    inbound_topics,
    records_on,
    sdk_event,
    settings_for,
)
from tests.servers import Servers, free_port

pytestmark = pytest.mark.integration


async def test_the_sdk_over_a_real_socket_reaches_the_topic_and_a_referral(
    servers: Servers, schema: str, tokens: Tokens, kafka_admin: AIOKafkaAdminClient
) -> None:
    topics = inbound_topics()
    await create_topics(kafka_admin, topics)
    port = free_port()
    settings = settings_for(servers, schema, tokens, port=port)
    app = create_app(settings, consumed_topics=topics)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, within_s=30)
            database = await asyncpg.connect(settings.database_url.get_secret_value())
            try:
                async with database.transaction():
                    county = await register_county(database)
                # A source with a space and letters outside ASCII: percent-encoded on the wire.
                source = "/vestland/bø vgs/skoleadministrasjon"
                event = sdk_event(school=county.school, source=source)
                message = to_binary(event, JSONFormat())
                assert "%C3%B8" in message.headers["ce-source"]

                response = await client.post(
                    "/v1/events",
                    content=message.body,
                    headers={**message.headers, **tokens.headers(county.school, Role.FILER)},
                )

                assert response.status_code == 202, response.text
                assert response.json()["source"] == source
                (record,) = await records_on(servers.kafka_bootstrap, topics.inbound_school)
                on_kafka = from_record(record.key, record.value, record.headers)
                assert on_kafka.source == source
                assert on_kafka.id == uuid.UUID(event.get_id())
                assert on_kafka.time == event.get_time()
                assert on_kafka.time.tzinfo is not None
                assert on_kafka.time <= dt.datetime.now(dt.UTC)

                async def referred() -> bool:
                    return bool(await database.fetchval("SELECT count(*) FROM referrals") == 1)

                await eventually(referred, within_s=60)
            finally:
                await database.close()
    finally:
        server.should_exit = True
        await serving
        await delete_topics(kafka_admin, topics)
