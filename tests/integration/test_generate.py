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

from bench.generate import (
    COUNTIES,
    DEFAULT_UNTIL,
    generate,
    generate_county,
    generate_directory,
)
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


async def test_a_run_split_by_county_writes_what_one_run_writes_and_a_stopped_county_is_redone(
    referral_schema: SchemaFactory, servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = StoreKeys(master_key=os.urandom(32), index_key=os.urandom(32))
    async with referral_schema() as whole_url:
        whole, _ = await generate(
            whole_url, keys, seed=3, referrals=REFERRALS, years=3, batch=50, progress=False
        )
    async with referral_schema() as split_url:
        schema = split_url.rsplit("search_path=", 1)[1]
        await generate_directory(split_url, keys, seed=3, years=3, topic_prefix="run.")
        # A second call finds the directory there and writes nothing.
        await generate_directory(split_url, keys, seed=3, years=3, topic_prefix="run.")

        async def county(number: str) -> dict[str, Any]:
            summary, _ = await generate_county(
                servers.database_url,
                schema,
                keys,
                seed=3,
                referrals=REFERRALS,
                county=number,
                years=3,
                batch=50,
                progress=False,
                topic_prefix="run.",
            )
            return summary

        # A county stopped part way (here: as it is recorded) leaves nothing in the run but
        # its staging schema, and the next run of it starts from nothing.
        original = asyncpg.Connection.execute
        calls = 0

        async def execute(self: asyncpg.Connection, query: str, *args: object) -> str:
            nonlocal calls
            if query.lstrip().startswith("INSERT INTO") and "generated_counties" in query:
                calls += 1
                raise RuntimeError("stopped before the county was recorded")
            return await original(self, query, *args)

        with monkeypatch.context() as patched:
            patched.setattr(asyncpg.Connection, "execute", execute)
            with pytest.raises(RuntimeError, match="stopped before"):
                await county("03")
        assert calls == 1
        connection = await asyncpg.connect(split_url)
        try:
            assert await connection.fetchval("SELECT count(*) FROM referrals") == 0
            summaries = [await county(c.number) for c in COUNTIES]
            recorded = await connection.fetchval("SELECT count(*) FROM generated_counties")
            events = await connection.fetchval("SELECT count(*) FROM outbox")
            prefixed = await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE topic LIKE 'run.overgang.%'"
            )
            statuses: dict[str, int] = {
                row[0]: row[1]
                for row in await connection.fetch(
                    "SELECT status, count(*) FROM referrals GROUP BY status"
                )
            }
            directory_events = await connection.fetchval(
                "SELECT (summary ->> 'events')::int FROM generated_counties"
                " WHERE county_number = 'directory'"
            )
            staging_left = await connection.fetchval(
                "SELECT count(*) FROM pg_namespace WHERE nspname LIKE $1", f"{schema}_county_%"
            )
        finally:
            await connection.close()

    assert recorded == len(COUNTIES) + 1
    assert staging_left == 0
    assert events == prefixed == whole["events"]
    assert sum(s["events"] for s in summaries) + directory_events == whole["events"]
    assert sum(s["referrals"] for s in summaries) == whole["referrals"]
    assert sum(s["subjects"] for s in summaries) == whole["subjects"]
    assert statuses == whole["statuses"]
