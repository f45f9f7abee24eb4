"""The outbox relay starts again, on fresh connections, after anything a database that went
away raises: it must never die while its service runs on."""

import asyncio

import asyncpg
import pytest

from services.plumbing.outbox import OutboxRelay, RelaySettings


@pytest.mark.parametrize(
    "failure",
    [
        # What PostgreSQL stopping in the middle of a marking raised (a fault test found it).
        asyncpg.InternalClientError("cannot switch to state 12; another operation is in progress"),
        asyncpg.InterfaceError("connection is closed"),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
)
async def test_the_relay_leads_again_after_the_database_went_away(failure: Exception) -> None:
    relay = OutboxRelay("postgresql://unused", RelaySettings("unused:9092", "test-relay"))
    stop = asyncio.Event()
    attempts = 0

    async def lead(stop_: asyncio.Event) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise failure
        stop.set()

    relay._lead = lead  # type: ignore[method-assign,assignment]

    await asyncio.wait_for(relay.run(stop), 5)

    assert attempts == 2
