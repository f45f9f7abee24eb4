"""The audit service verifies its own chain now and then, so that a broken chain raises an
alert without anyone asking: the gauges say it held, and after a row is changed behind the
trigger's back, that it does not (and the log names the row)."""

import asyncio
import logging
import uuid

import asyncpg
import pytest
from prometheus_client import REGISTRY

from services.audit.store import log
from services.audit.usecases.checkpoints import CheckpointPublishing, run_verifications
from tests.integration.audit.test_verify_in_database import entry
from tests.servers import Servers

pytestmark = pytest.mark.integration


def gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


async def verified_once(pool: asyncpg.Pool, servers: Servers, at: float) -> None:
    """Run the verifications until the first is done (its time is `at`), then stop them."""
    stop = asyncio.Event()
    publishing = CheckpointPublishing(servers.kafka_bootstrap, f"audit.{uuid.uuid4().hex}", 60)
    running = asyncio.create_task(
        run_verifications(
            pool, stop, publishing, interval_s=3600, first_after_s=0.01, wall_clock=lambda: at
        )
    )
    try:
        async with asyncio.timeout(30):
            while gauge("overgang_audit_chain_verified_timestamp_seconds") != at:  # noqa: ASYNC110 - a gauge, polled
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await running


async def test_the_gauges_say_whether_the_chain_holds(
    pool: asyncpg.Pool, servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await log.append_all(connection, [entry() for _ in range(5)])

    await verified_once(pool, servers, at=1_000.0)

    assert gauge("overgang_audit_chain_broken") == 0
    assert gauge("overgang_audit_chain_verified_rows") == 5

    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await connection.execute("UPDATE audit_log SET type = 'x' WHERE sequence = 3")
        await connection.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    with caplog.at_level(logging.ERROR):
        await verified_once(pool, servers, at=2_000.0)

    assert gauge("overgang_audit_chain_broken") == 1
    assert gauge("overgang_audit_chain_verified_rows") == 2
    assert "first bad sequence 3" in caplog.text
