"""The scale benchmark's data generator, small: it runs through the referral service's use
cases into a migrated referral schema, the same seed gives the same data, and every change
reached the outbox as its event (what the relay carries to Kafka)."""

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest

from bench.generate import DEFAULT_UNTIL, generate
from services.plumbing.migrations import migrate, migrations_folder
from services.referral.crypto import StoreKeys
from tests.servers import Servers

pytestmark = pytest.mark.integration

REFERRALS = 200
SchemaFactory = Callable[[], AbstractAsyncContextManager[str]]


@pytest.fixture
def referral_schema(servers: Servers) -> SchemaFactory:
    """A fresh schema with the referral service's tables, as many as a test asks for."""

    @asynccontextmanager
    async def made() -> AsyncIterator[str]:
        name = f"test_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(servers.database_url)
        await admin.execute(f'CREATE SCHEMA "{name}"')
        separator = "&" if "?" in servers.database_url else "?"
        url = f"{servers.database_url}{separator}{urlencode({'search_path': name})}"
        connection = await asyncpg.connect(url)
        await migrate(connection, migrations_folder("services.referral"))
        await connection.close()
        try:
            yield url
        finally:
            await admin.execute(f'DROP SCHEMA "{name}" CASCADE')
            await admin.close()

    return made


async def _generate(url: str, *, seed: int, batch: int) -> dict[str, Any]:
    # Keys of its own each time: the data is the same whatever the store's keys are.
    keys = StoreKeys(master_key=os.urandom(32), index_key=os.urandom(32))
    summary, _ = await generate(
        url, keys, seed=seed, referrals=REFERRALS, years=3, batch=batch, progress=False
    )
    return summary


async def test_the_same_seed_gives_the_same_data_and_its_events_are_in_the_outbox(
    referral_schema: SchemaFactory,
) -> None:
    async with referral_schema() as url:
        first = await _generate(url, seed=7, batch=50)
        connection = await asyncpg.connect(url)
        try:
            statuses: dict[str, int] = {
                row[0]: row[1]
                for row in await connection.fetch(
                    "SELECT status, count(*) FROM referrals GROUP BY status ORDER BY status"
                )
            }
            types: dict[str, int] = {
                row[0]: row[1]
                for row in await connection.fetch(
                    "SELECT headers ->> 'ce_type', count(*) FROM outbox GROUP BY 1 ORDER BY 1"
                )
            }
            events = await connection.fetchval("SELECT count(*) FROM outbox")
            organisations = await connection.fetchval("SELECT count(*) FROM organisations")
            first_filed = await connection.fetchval("SELECT min(submitted_at) FROM referrals")
            last_step = await connection.fetchval("SELECT max(occurred_at) FROM referral_history")
        finally:
            await connection.close()
    # One at a time (each use case its own transaction), in a schema of its own: the same.
    async with referral_schema() as url:
        again = await _generate(url, seed=7, batch=1)
    async with referral_schema() as url:
        other = await _generate(url, seed=8, batch=50)

    assert again == first
    assert other != first
    # What the summary says is what the store holds.
    assert statuses == first["statuses"]
    assert sum(statuses.values()) == first["referrals"] >= REFERRALS * 0.9
    assert organisations == sum(first["organisations"].values())
    assert first["organisations"]["follow_up_service"] == 11
    # Each change is its event in the outbox, written in the change's transaction.
    assert events == first["events"]
    referral_steps = {
        step: count
        for step, count in first["steps"].items()
        if not step.startswith(("consent_", "subject_"))
    }
    assert {
        f"no.overgang.referral.{step}.v1": count for step, count in referral_steps.items()
    }.items() <= types.items()
    # Cancellations come from withdrawn consents, one event each besides the withdrawal's.
    assert types.get("no.overgang.referral.cancelled.v1", 0) == statuses.get("cancelled", 0)
    assert types["no.overgang.subject.registered.v1"] == first["subjects"]
    assert types["no.overgang.consent.given.v1"] == first["consents"]
    # The use cases ran on the generator's clock: the history lies in the years asked for.
    assert DEFAULT_UNTIL - dt.timedelta(days=3 * 366) < first_filed < last_step <= DEFAULT_UNTIL
    # Closed ones, and ones still open when the history ends.
    assert {"completed", "rejected"} <= statuses.keys()
    assert statuses.keys() & {"submitted", "received", "accepted", "in_progress"}
