"""What every benchmark does alike: a fresh, migrated schema for a service's tables, and the
figures written with when and on what they were measured."""

import asyncio
import json
import os
import platform
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker

from services.plumbing.consumer import EventConsumer
from services.plumbing.migrations import migrate, migrations_folder


@asynccontextmanager
async def service_schema(database_url: str, service: str) -> AsyncIterator[str]:
    """A URL whose connections use a fresh schema with `service`'s tables, migrated as the
    service migrates its database; dropped afterwards."""
    name = f"bench_{service}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE SCHEMA "{name}"')
    url = f"{database_url}?search_path={name}"
    connection = await asyncpg.connect(url)
    await migrate(connection, migrations_folder(f"services.{service}"))
    await connection.close()
    try:
        yield url
    finally:
        await admin.execute(f'DROP SCHEMA "{name}" CASCADE')
        await admin.close()


def write_results(path: Path, figures: dict[str, Any]) -> dict[str, Any]:
    """Write the figures, after when and on what machine they were measured; what was written."""
    written = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **figures,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(written, indent=2) + "\n")
    return written


async def time_consumer(bootstrap: str, consumer: EventConsumer, expected: int) -> float:
    """Seconds from starting `consumer` on a broker of its own until it has handled
    `expected` events; it is stopped afterwards (its pool is the caller's)."""
    broker = KafkaBroker(bootstrap, logger=None)
    consumer.subscribe(broker)
    await consumer.dead_letters.start()
    began = time.perf_counter()
    await broker.start()
    try:
        while consumer.totals.handled < expected:  # noqa: ASYNC110 - a counter, polled
            await asyncio.sleep(0.01)
        return time.perf_counter() - began
    finally:
        await broker.stop()
        await consumer.dead_letters.stop()
