"""`overgang audit verify`: the walk reports its progress a stretch at a time with the same
outcome as one walk, and a chain that does not hold is named down to its row."""

import asyncio
import json

import asyncpg
import pytest

from deploy.local.cli import main as overgang
from services.audit.usecases.verify import verify_chain, verify_in_stretches
from tests.conftest import NewTopicFactory
from tests.integration.audit.test_verify_in_database import _append, entry
from tests.servers import Servers

pytestmark = pytest.mark.integration


async def _tamper(pool: asyncpg.Pool, statement: str) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await connection.execute(statement)
        await connection.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


async def test_the_walk_reports_each_stretch_and_ends_as_one_walk(pool: asyncpg.Pool) -> None:
    await _append(pool, [entry() for _ in range(25)])
    told: list[tuple[int, int]] = []

    async with pool.acquire() as connection:
        walked = await verify_in_stretches(
            connection, progress=lambda done, total: told.append((done, total)), stretch_rows=10
        )
        whole = await verify_chain(connection)

    assert told == [(10, 25), (20, 25), (25, 25)]
    assert walked == whole
    assert (walked.ok, walked.verified_rows, walked.head_sequence) == (True, 25, 25)


async def test_the_stretches_stop_at_the_first_bad_row(pool: asyncpg.Pool) -> None:
    await _append(pool, [entry() for _ in range(25)])
    await _tamper(pool, "UPDATE audit_log SET source_topic = 'x' WHERE sequence = 14")
    told: list[tuple[int, int]] = []

    async with pool.acquire() as connection:
        walked = await verify_in_stretches(
            connection, progress=lambda done, total: told.append((done, total)), stretch_rows=10
        )
        whole = await verify_chain(connection)

    assert told == [(10, 25), (13, 25)]
    assert walked == whole
    assert (walked.first_bad_sequence, walked.verified_rows) == (14, 13)


async def test_the_command_names_the_bad_row(
    pool: asyncpg.Pool,
    database_url: str,
    servers: Servers,
    new_topic: NewTopicFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    entries = [entry() for _ in range(6)]
    await _append(pool, entries)
    await _tamper(pool, "UPDATE audit_log SET payload = '\\x00' WHERE sequence = 4")
    arguments = ["audit", "verify", "--database-url", database_url]
    arguments += ["--bootstrap", servers.kafka_bootstrap]
    arguments += ["--checkpoint-topic", await new_topic("checkpoints", partitions=1)]

    code = await asyncio.to_thread(overgang, arguments)

    captured = capsys.readouterr()
    assert code == 1
    outcome = json.loads(captured.out.splitlines()[-1])
    assert (outcome["ok"], outcome["first_bad_sequence"]) == (False, 4)
    assert outcome["problem"] == "payload_hash_mismatch"
    assert outcome["bad_row"]["sequence"] == 4
    assert outcome["bad_row"]["event_id"] == str(entries[3].event_id)
    assert captured.err == (
        f"overgang: the chain does not hold at sequence 4 (payload_hash_mismatch): event "
        f"{entries[3].event_id} ({entries[3].type}), recorded {entries[3].recorded_at}\n"
    )


async def test_a_range_past_the_end_is_bad_usage(
    pool: asyncpg.Pool, database_url: str, servers: Servers, capsys: pytest.CaptureFixture[str]
) -> None:
    await _append(pool, [entry() for _ in range(3)])
    arguments = ["audit", "verify", "--database-url", database_url, "--from", "10"]
    arguments += ["--bootstrap", servers.kafka_bootstrap]

    code = await asyncio.to_thread(overgang, arguments)

    assert code == 2
    assert capsys.readouterr().err == "overgang: the log ends at sequence 3\n"


async def test_given_the_database_and_kafka_the_command_needs_no_settings(
    pool: asyncpg.Pool,
    database_url: str,
    servers: Servers,
    new_topic: NewTopicFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On a machine without a local stack or the audit service's environment (a fresh clone's
    e2e run found it asked for them anyway)."""
    monkeypatch.setenv("OVERGANG_STACK_STATE", "/nonexistent/stack.json")
    for name in ("OVERGANG_DATABASE_URL", "OVERGANG_KAFKA_BOOTSTRAP"):
        monkeypatch.delenv(name, raising=False)
    await _append(pool, [entry() for _ in range(2)])
    arguments = ["audit", "verify", "--database-url", database_url]
    arguments += ["--bootstrap", servers.kafka_bootstrap]
    arguments += ["--checkpoint-topic", await new_topic("checkpoints", partitions=1)]

    code = await asyncio.to_thread(overgang, arguments)

    assert code == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["verified_rows"] == 2


async def test_without_them_and_without_settings_it_says_which_are_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OVERGANG_STACK_STATE", "/nonexistent/stack.json")
    for name in ("OVERGANG_DATABASE_URL", "OVERGANG_KAFKA_BOOTSTRAP"):
        monkeypatch.delenv(name, raising=False)

    code = await asyncio.to_thread(overgang, ["audit", "verify"])

    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("overgang: the audit service's settings are not usable")
    assert "database_url" in error
