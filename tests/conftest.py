"""Session-wide servers and per-test isolation: a fresh schema and fresh topics per test."""

import asyncio
import gc
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import AIOKafkaConnection

from deploy.local.config import REPOSITORY
from deploy.local.postgres import redacted
from tests.collector import Collector, running_collector
from tests.servers import Servers, running_servers
from tests.system import System, running_system

NewTopicFactory = Callable[..., Awaitable[str]]


_SERVERS_USED = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def servers(pytestconfig: pytest.Config) -> Iterator[Servers]:
    with running_servers() as found:
        pytestconfig.stash[_SERVERS_USED] = (
            f"Kafka {found.kafka_bootstrap}, PostgreSQL {redacted(found.database_url)}"
            f" ({found.origin})"
        )
        yield found


@pytest.fixture(scope="session")
async def kafka_admin(servers: Servers) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers.kafka_bootstrap)
    await admin.start()
    yield admin
    await admin.close()


@pytest.fixture
async def new_topic(kafka_admin: AIOKafkaAdminClient) -> AsyncIterator[NewTopicFactory]:
    """Creates topics that only this test uses, and deletes them afterwards."""
    created: list[str] = []

    async def create(name: str = "topic", *, partitions: int = 3) -> str:
        topic = f"test.{name}.{uuid.uuid4().hex[:12]}"
        await kafka_admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1)]
        )
        created.append(topic)
        return topic

    yield create
    if created:
        await kafka_admin.delete_topics(created)


@pytest.fixture
async def schema(servers: Servers) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL schema for this test alone, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(servers.database_url)
    await admin.execute(f'CREATE SCHEMA "{name}"')
    yield name
    await admin.execute(f'DROP SCHEMA "{name}" CASCADE')
    await admin.close()


@pytest.fixture
def schema_url(servers: Servers, schema: str) -> str:
    """A database URL whose connections use this test's own, empty schema: each service
    under test migrates its own tables there, apart from every other test's."""
    separator = "&" if "?" in servers.database_url else "?"
    return f"{servers.database_url}{separator}{urlencode({'search_path': schema})}"


@pytest.fixture
async def db(servers: Servers, schema: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection whose search path is this test's own schema."""
    connection = await asyncpg.connect(
        servers.database_url, server_settings={"search_path": schema}
    )
    yield connection
    await connection.close()


@pytest.fixture(scope="session")
def collector() -> Iterator[Collector]:
    """An OTLP endpoint that keeps every span the system's services export."""
    with running_collector() as running:
        yield running


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory, collector: Collector) -> Iterator[System]:
    """The whole system, with the demo, on its own servers: once per test session, shared by
    the end-to-end and fault-injection tests (which leave it running as they found it)."""
    with running_system(tmp_path_factory.mktemp("system"), otlp_endpoint=collector.endpoint) as up:
        yield up


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    origin = terminalreporter.config.stash.get(_SERVERS_USED, None)
    if origin is not None:
        terminalreporter.write_line(f"servers used: {origin}")


@pytest.fixture(scope="session")
def promtool() -> Path:
    """Prometheus's own checker: on PATH, or unpacked into var/tools by `make tools`."""
    found = shutil.which("promtool") or REPOSITORY / "var" / "tools" / "promtool"
    if not Path(found).exists():
        pytest.fail("promtool is missing: `make tools` unpacks it into var/tools")
    return Path(found)


@pytest.fixture(scope="session", autouse=True)
async def close_what_aiokafka_left_open() -> AsyncIterator[None]:
    """At the end of the session, close the Kafka connections aiokafka's clients left open
    on this loop, and say how many. A client whose metadata update is under way while it
    closes (a service app stopped by a test) can open a connection after its close, which
    nothing then owns (aiokafka's known unclosed-connection races, e.g. aio-libs/aiokafka
    #715 and #1019); left alone, each becomes a ResourceWarning when the loop closes, which
    fails the run without naming a test. Found in session 6's fresh-clone run, with
    tracemalloc: allocated by `AIOKafkaClient._metadata_update` during an app's teardown."""
    yield
    loop = asyncio.get_running_loop()
    left = [
        found
        for found in gc.get_objects()
        if isinstance(found, AIOKafkaConnection) and found.connected() and found._loop is loop
    ]
    if left:
        closing = [asyncio.ensure_future(connection.close()) for connection in left]
        await asyncio.wait(closing, timeout=5)
        print(f"\naiokafka left {len(left)} connection(s) open; closed at the end of the session")
