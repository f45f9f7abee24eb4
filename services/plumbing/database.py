"""The service's PostgreSQL connection pool."""

import asyncio
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.plumbing.settings import ServiceSettings

# A connection of its own or one lent by a pool: the code that takes it works with either.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


def atomic(connection: Connection) -> AbstractAsyncContextManager[object]:
    """A transaction of its own, or the caller's when one is open already: a use case that a
    request runs inside its transaction (e.g. with its Idempotency-Key) needs no savepoint,
    as an error there ends the caller's transaction too. Two round trips fewer per request."""
    if connection.is_in_transaction():
        return nullcontext()
    return connection.transaction()


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


# What a database that went away (restarted, failed over, cut the connection) raises, from the
# server, the socket or the driver; a worker that meets one starts again on fresh connections.
# InternalClientError: asyncpg lost track of a connection broken in the middle of an operation
# ("another operation is in progress"); it killed the outbox relay when PostgreSQL stopped.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
DATABASE_ERRORS_OR_TIMEOUT: tuple[type[Exception], ...] = (*DATABASE_ERRORS, TimeoutError)


async def database_answers(pool: asyncpg.Pool, timeout_s: float) -> bool:
    try:
        async with asyncio.timeout(timeout_s):
            async with pool.acquire() as connection:
                return bool(await connection.fetchval("SELECT 1") == 1)
    except DATABASE_ERRORS_OR_TIMEOUT:
        return False
