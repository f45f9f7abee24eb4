"""PostgreSQL hashes the rows of the chain where they are (store/log.py, walk) and Python
decides on what it finds suspect (domain/chain.py). These tests hold the two to the same
bytes over awkward rows, and show that a row the database cannot vouch for is checked, not
condemned."""

import datetime as dt
import uuid
from collections.abc import Mapping

import asyncpg
import pytest

from services.audit.domain.chain import GENESIS, Entry, Problem, sha256
from services.audit.store import log
from services.audit.usecases import verify
from services.audit.usecases.verify import verify_chain

pytestmark = pytest.mark.integration

AWKWARD_TEXT = 'quote " backslash \\ tab \t newline \n nul-free \x01\x1f del \x7f æøå ✓ 😀'


def entry(
    *,
    dead_letter: Mapping[str, str] | None = None,
    organisations: int = 1,
    event_time: dt.datetime | None = dt.datetime(2026, 5, 17, 0, 0, tzinfo=dt.UTC),
    type_: str | None = "no.overgang.referral.submitted.v1",
    subject: bool = True,
    payload: bytes | None = b'{"a":1}',
    topic: str = "overgang.person.v1",
    recorded_at: dt.datetime | None = None,
) -> Entry:
    return Entry(
        entry_id=uuid.uuid4(),
        event_id=uuid.uuid4() if type_ is not None else None,
        type=type_,
        event_time=event_time,
        subject_id=uuid.uuid4() if subject else None,
        organisation_ids=tuple(uuid.uuid4() for _ in range(organisations)),
        source_topic=topic,
        dead_letter=dead_letter,
        payload=payload,
        payload_hash=sha256(payload if payload is not None else b"withheld record"),
        recorded_at=recorded_at or dt.datetime.now(dt.UTC),
    )


OSLO = dt.timezone(dt.timedelta(hours=2))
AWKWARD_ENTRIES = [
    entry(),
    entry(organisations=0, subject=False),
    entry(organisations=5),
    entry(event_time=None, type_=None, payload=None, topic="overgang.person.v1.dlq"),
    # A time given with an offset, and one with no microseconds, and one with all six.
    entry(event_time=dt.datetime(2026, 3, 29, 2, 30, tzinfo=OSLO)),
    entry(recorded_at=dt.datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC)),
    entry(recorded_at=dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)),
    entry(dead_letter={}),
    entry(
        dead_letter={
            "reason": "schema_violation",
            "error": AWKWARD_TEXT,
            "consumer_group": "overgang-notifier.overgang.person.v1",
            "attempts": "3",
            "Z-upper-before-lower": "x",
            "ø-after-ascii": "y",
        },
        payload=None,
    ),
    entry(topic=AWKWARD_TEXT),
    entry(type_=AWKWARD_TEXT),
]


async def _append(pool: asyncpg.Pool, entries: list[Entry]) -> None:
    async with pool.acquire() as connection, connection.transaction():
        for each in entries:
            assert await log.append(connection, each) is not None


async def _walk(pool: asyncpg.Pool) -> log.Walked:
    async with pool.acquire() as connection:
        return await log.walk(connection, first=1, last=None, previous_hash=GENESIS)


async def test_the_database_hashes_every_awkward_row_as_python_does(pool: asyncpg.Pool) -> None:
    await _append(pool, AWKWARD_ENTRIES)

    walked = await _walk(pool)
    assert (walked.suspect, walked.held_until) == (None, len(AWKWARD_ENTRIES))


async def test_a_row_the_database_cannot_vouch_for_is_checked_in_python(
    pool: asyncpg.Pool,
) -> None:
    # RFC 8785 orders keys by UTF-16 code units: U+1F600 (a surrogate pair, 0xD83D...)
    # sorts before U+FB01 (0xFB01); by code points, as the database orders, it is after.
    unusual = entry(dead_letter={"\U0001f600": "a", "\ufb01": "b"}, payload=None)
    await _append(pool, [entry(), unusual, entry()])

    assert (await _walk(pool)).suspect == 2
    async with pool.acquire() as connection:
        result = await verify_chain(connection)
    assert result.ok
    assert result.verified_rows == 3


async def test_the_database_finds_each_kind_of_change_and_python_names_it(
    pool: asyncpg.Pool,
) -> None:
    await _append(pool, [entry() for _ in range(8)])
    changes = {
        2: (
            "UPDATE audit_log SET source_topic = 'x' WHERE sequence = 2",
            Problem.ROW_HASH_MISMATCH,
        ),
        4: (
            "UPDATE audit_log SET payload = '\\x00' WHERE sequence = 4",
            Problem.PAYLOAD_HASH_MISMATCH,
        ),
        6: ("DELETE FROM audit_log WHERE sequence = 6", Problem.SEQUENCE_GAP),
    }
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        for statement, _ in changes.values():
            await connection.execute(statement)
        await connection.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")

    for sequence, (_, problem) in changes.items():
        async with pool.acquire() as connection:
            # From the row before to the row after: only this change is in the way.
            result = await verify_chain(connection, first=sequence - 1, last=sequence + 1)
        assert (result.first_bad_sequence, result.problem) == (sequence, problem)
        assert result.verified_rows == 1


@pytest.mark.parametrize(
    ("statement", "named", "problem"),
    [
        (None, None, None),
        ("UPDATE audit_log SET type = 'x' WHERE sequence = 3", 3, Problem.ROW_HASH_MISMATCH),
        ("UPDATE audit_log SET type = 'x' WHERE sequence = 8", 8, Problem.ROW_HASH_MISMATCH),
        # The middle of 1..10 is 5: the row there, and the one after it, missing.
        ("DELETE FROM audit_log WHERE sequence = 5", 5, Problem.SEQUENCE_GAP),
        ("DELETE FROM audit_log WHERE sequence = 6", 6, Problem.SEQUENCE_GAP),
    ],
)
async def test_walking_in_two_halves_at_once_finds_what_walking_in_one_finds(
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
    statement: str | None,
    named: int | None,
    problem: Problem | None,
) -> None:
    monkeypatch.setattr(verify, "PARALLEL_FROM_ROWS", 2)
    await _append(pool, [entry() for _ in range(10)])
    if statement is not None:
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            await connection.execute(statement)
            await connection.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")

    async with pool.acquire() as connection, pool.acquire() as helper:
        in_halves = await verify.verify_chain(connection, helper=helper)
        in_one = await verify.verify_chain(connection)

    assert in_halves == in_one
    assert (in_halves.first_bad_sequence, in_halves.problem) == (named, problem)
    assert in_halves.verified_rows == (10 if named is None else named - 1)
