"""The service's PostgreSQL connection pool."""

import asyncio

import asyncpg

from services.plumbing.settings import ServiceSettings


async def create_pool(settings: ServiceSettings) -> asyncpg.Pool:
    """A pool that opens connections on demand, so a service starts while its database is
    still coming up and becomes ready when it answers."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(),
        min_size=0,
        max_size=10,
        command_timeout=30,
    )
    return pool


async def database_answers(pool: asyncpg.Pool, timeout_s: float) -> bool:
    try:
        async with asyncio.timeout(timeout_s):
            async with pool.acquire() as connection:
                return bool(await connection.fetchval("SELECT 1") == 1)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        return False
