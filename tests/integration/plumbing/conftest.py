"""Fixtures for the plumbing: a schema with the outbox and inbox tables, and its URL."""

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import asyncpg
import pytest

from services.plumbing.tables import create_plumbing_tables
from tests.servers import Servers


@pytest.fixture
async def database_url(servers: Servers, schema: str) -> str:
    """A URL whose connections use this test's schema, where the plumbing tables exist."""
    separator = "&" if "?" in servers.database_url else "?"
    url = f"{servers.database_url}{separator}{urlencode({'search_path': schema})}"
    connection = await asyncpg.connect(url)
    await create_plumbing_tables(connection)
    await connection.close()
    return url


@pytest.fixture
def transactional_id() -> str:
    """Unique per test: a relay's transactional id is also where it records its progress."""
    return f"test-relay-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on this test's schema, with an `effects` table for handlers to write to."""
    pool: asyncpg.Pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    await pool.execute("CREATE TABLE effects (event_id uuid NOT NULL)")
    yield pool
    await pool.close()
