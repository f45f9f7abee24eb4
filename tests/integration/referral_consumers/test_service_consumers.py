"""A service's consumers start only once its database is migrated (their inbox table must
exist), and stop cleanly whether or not they started."""

import asyncio
from urllib.parse import urlencode

import asyncpg
import pytest

from schemas.envelope import CloudEvent, EventData
from services.plumbing.consumer import ConsumerSpec
from services.plumbing.database import Connection
from services.plumbing.service import ServiceConsumers
from services.plumbing.settings import ServiceSettings
from tests.conftest import NewTopicFactory
from tests.servers import Servers

pytestmark = pytest.mark.integration


async def _nothing(connection: Connection, data: EventData, event: CloudEvent) -> None:
    return None


class _Settings(ServiceSettings):
    service_name = "consumers-test"
    port: int = 0


def _url(servers: Servers, schema: str) -> str:
    separator = "&" if "?" in servers.database_url else "?"
    return f"{servers.database_url}{separator}{urlencode({'search_path': schema})}"


async def test_consumers_wait_for_the_migrations_then_consume(
    servers: Servers, schema: str, new_topic: NewTopicFactory
) -> None:
    topic = await new_topic("gate", partitions=1)
    url = _url(servers, schema)
    settings = _Settings(kafka_bootstrap=servers.kafka_bootstrap, database_url=url)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    migrated = False
    stop = asyncio.Event()
    consumers = ServiceConsumers(
        settings, [ConsumerSpec(topic=topic, group=f"{topic}.group", handler=_nothing)], pool
    )
    try:
        starting = asyncio.create_task(consumers.run(lambda: migrated, stop))
        await asyncio.sleep(1.0)
        assert not consumers.running
        assert not await consumers.answers(2.0)

        migrated = True
        await asyncio.wait_for(starting, 30)
        assert consumers.running
        assert await consumers.answers(2.0)
    finally:
        stop.set()
        await consumers.stop()
        await pool.close()
    assert not consumers.running


async def test_consumers_stopped_before_the_migrations_never_start(
    servers: Servers, schema: str
) -> None:
    url = _url(servers, schema)
    settings = _Settings(kafka_bootstrap=servers.kafka_bootstrap, database_url=url)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    stop = asyncio.Event()
    consumers = ServiceConsumers(
        settings, [ConsumerSpec(topic="never.read", group="never", handler=_nothing)], pool
    )
    starting = asyncio.create_task(consumers.run(lambda: False, stop))
    stop.set()
    await asyncio.wait_for(starting, 5)
    await consumers.stop()
    await pool.close()
    assert not consumers.running
