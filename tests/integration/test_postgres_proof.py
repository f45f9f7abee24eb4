"""The harness's PostgreSQL is a real server, and each test gets a schema of its own."""

import datetime as dt
import uuid

import asyncpg
import pytest

pytestmark = pytest.mark.integration


async def test_rows_round_trip_with_their_types(db: asyncpg.Connection) -> None:
    await db.execute(
        """CREATE TABLE handoff (
               id uuid PRIMARY KEY,
               organisation text NOT NULL,
               filed_at timestamptz NOT NULL,
               details jsonb NOT NULL
           )"""
    )
    filed_at = dt.datetime(2026, 8, 17, 8, 30, tzinfo=dt.UTC)
    rows = [
        (
            uuid.uuid4(),
            f"Oppfølgingstjenesten {n}",
            filed_at + dt.timedelta(days=n),
            f'{{"n": {n}}}',
        )
        for n in range(100)
    ]
    await db.executemany("INSERT INTO handoff VALUES ($1, $2, $3, $4::jsonb)", rows)

    stored = await db.fetch(
        "SELECT id, organisation, filed_at, details::text FROM handoff ORDER BY filed_at"
    )

    assert [tuple(row) for row in stored] == rows


async def test_a_test_starts_with_an_empty_schema_of_its_own(
    db: asyncpg.Connection, schema: str
) -> None:
    # The test above created a table; none of it is visible here.
    assert await db.fetchval("SELECT current_schema()") == schema
    tables = await db.fetchval(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", schema
    )
    assert tables == 0
    assert await db.fetchval("SELECT to_regclass('handoff')") is None
