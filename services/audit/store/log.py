"""The append-only, hash-chained log: appending under the chain head's lock, and streaming
rows back in sequence order for verification and reading."""

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.audit.domain.chain import ChainRow, Entry, link
from services.plumbing.database import Connection

_COLUMNS = """sequence, entry_id, event_id, type, event_time, subject_id, organisation_ids,
    source_topic, dead_letter, payload, payload_hash, previous_hash, row_hash, recorded_at"""


@dataclass(frozen=True)
class Head:
    """Where the chain ends: the last sequence number and its row hash (None: empty log)."""

    sequence: int
    row_hash: bytes | None


class _LastHead:
    """Where this process last saw the head. An append guesses it is still the head and checks
    that in the same statement, so that appending costs one round trip; a wrong guess (another
    instance appended, a savepoint rolled back) only costs the read it saves."""

    head: Head | None = None


async def append(connection: Connection, entry: Entry) -> ChainRow | None:
    """Link `entry` after the head and write it, in the caller's transaction; None when an
    entry with its id is in the log already.

    The head row stays locked until the caller's transaction ends, so appends from any number
    of audit instances queue up behind each other and the chain never forks. The statement
    links the entry after the head this process last saw, and writes only if that is still
    the head (locking it); when it is not, the head is read under its lock and the entry
    linked again."""
    if not connection.is_in_transaction():
        raise RuntimeError("appending to the audit log needs the caller's transaction")
    guess = _LastHead.head
    if guess is not None:
        matched, row = await _append_after(connection, entry, guess)
        if matched:
            return row
    locked = await connection.fetchrow("SELECT sequence, row_hash FROM audit_chain_head FOR UPDATE")
    assert locked is not None, "the audit_chain_head row is created by the migration"
    matched, row = await _append_after(
        connection, entry, Head(locked["sequence"], locked["row_hash"])
    )
    assert matched, "the head is locked by this transaction"
    return row


async def append_all(connection: Connection, entries: Sequence[Entry]) -> list[ChainRow | None]:
    """Link `entries`, in order, after the head and write them, in the caller's transaction
    (three round trips for them all); for each, its row, or None when an entry with its id
    is in the log already (or earlier in `entries`).

    The head is locked first, as `append` locks it; then no one else can write to the log
    until this transaction ends, and what is logged already is known for certain."""
    if not connection.is_in_transaction():
        raise RuntimeError("appending to the audit log needs the caller's transaction")
    if not entries:
        return []
    locked = await connection.fetchrow(
        """SELECT sequence, row_hash,
                  ARRAY(SELECT entry_id FROM audit_log WHERE entry_id = ANY($1::uuid[]))
                      AS logged
           FROM audit_chain_head FOR UPDATE""",
        [entry.entry_id for entry in entries],
    )
    assert locked is not None, "the audit_chain_head row is created by the migration"
    seen: set[uuid.UUID] = set(locked["logged"])
    sequence, row_hash = locked["sequence"], locked["row_hash"]
    linked: list[ChainRow | None] = []
    for entry in entries:
        if entry.entry_id in seen:
            linked.append(None)
            continue
        seen.add(entry.entry_id)
        row = link(entry, after_sequence=sequence, after_hash=row_hash)
        sequence, row_hash = row.sequence, row.row_hash
        linked.append(row)
    written = [row for row in linked if row is not None]
    if written:
        await connection.copy_records_to_table(
            "audit_log",
            columns=[column.strip() for column in _COLUMNS.split(",")],
            records=[_columns(row) for row in written],
        )
        await connection.execute(
            "UPDATE audit_chain_head SET sequence = $1, row_hash = $2", sequence, row_hash
        )
    _LastHead.head = Head(sequence, row_hash)
    return linked


def _columns(row: ChainRow) -> tuple[Any, ...]:
    """A row's values in the order of _COLUMNS."""
    entry = row.entry
    return (
        row.sequence,
        entry.entry_id,
        entry.event_id,
        entry.type,
        entry.event_time,
        entry.subject_id,
        list(entry.organisation_ids),
        entry.source_topic,
        None if entry.dead_letter is None else json.dumps(dict(entry.dead_letter)),
        entry.payload,
        entry.payload_hash,
        row.previous_hash,
        row.row_hash,
        entry.recorded_at,
    )


async def _append_after(
    connection: Connection, entry: Entry, after: Head
) -> tuple[bool, ChainRow | None]:
    """(whether `after` is the head, the row written or None when the entry was logged)."""
    row = link(entry, after_sequence=after.sequence, after_hash=after.row_hash)
    found = await connection.fetchrow(
        f"""WITH head AS (
               SELECT sequence FROM audit_chain_head
               WHERE sequence = $15 AND row_hash IS NOT DISTINCT FROM $16
               FOR UPDATE
           ), added AS (
               INSERT INTO audit_log ({_COLUMNS})
               SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14
               FROM head
               ON CONFLICT (entry_id) DO NOTHING
               RETURNING sequence, row_hash
           ), moved AS (
               UPDATE audit_chain_head SET sequence = added.sequence, row_hash = added.row_hash
               FROM added
               RETURNING added.sequence
           )
           SELECT EXISTS (SELECT FROM head) AS matched,
                  (SELECT sequence FROM moved) AS appended""",  # noqa: S608 (fixed columns)
        *_columns(row),
        after.sequence,
        after.row_hash,
    )
    assert found is not None
    if not found["matched"]:
        return False, None
    if found["appended"] is None:
        _LastHead.head = after  # a duplicate: the head did not move
        return True, None
    _LastHead.head = Head(row.sequence, row.row_hash)
    return True, row


async def head(connection: Connection) -> Head:
    found = await connection.fetchrow("SELECT sequence, row_hash FROM audit_chain_head")
    assert found is not None, "the audit_chain_head row is created by the migration"
    return Head(found["sequence"], found["row_hash"])


async def row_hash_at(connection: Connection, sequence: int) -> bytes | None:
    """The row hash of one row, or None when there is no such row."""
    found: bytes | None = await connection.fetchval(
        "SELECT row_hash FROM audit_log WHERE sequence = $1", sequence
    )
    return found


# The canonical form of a row (services/audit/domain/chain.py, row_hash) written in SQL, so
# that PostgreSQL can hash millions of rows where they are instead of sending them to Python.
# It is a fast filter only: a row it finds suspect is checked again in Python, whose
# row_hash is the definition (e.g. RFC 8785 orders keys by UTF-16 units, "C" by code points;
# they differ only for characters beyond U+FFFF in a dead-letter header's name). It cannot
# pass a changed row: for the hash to match, its text must be the very JSON that was
# hashed, and that JSON says what every column was.
_UTC_INSTANT = """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"""
_CANONICAL_ROW = f"""
    '{{"dead_letter":' || CASE WHEN l.dead_letter IS NULL THEN 'null' ELSE coalesce(
        (SELECT '{{' || string_agg(to_json(d.key)::text || ':' || to_json(d.value)::text, ','
                                  ORDER BY d.key COLLATE "C") || '}}'
         FROM jsonb_each_text(l.dead_letter) AS d), '{{}}') END
    || ',"entry_id":"' || l.entry_id::text
    || '","event_id":' || coalesce('"' || l.event_id::text || '"', 'null')
    || ',"event_time":' || coalesce(
        '"' || to_char(l.event_time AT TIME ZONE 'UTC', {_UTC_INSTANT}) || '"', 'null')
    || ',"organisation_ids":[' || CASE WHEN cardinality(l.organisation_ids) = 0 THEN ''
        ELSE '"' || array_to_string(l.organisation_ids, '","') || '"' END || ']'
    || ',"payload_hash":"' || encode(l.payload_hash, 'hex')
    || '","previous_hash":"' || encode(l.previous_hash, 'hex')
    || '","recorded_at":"' || to_char(l.recorded_at AT TIME ZONE 'UTC', {_UTC_INSTANT})
    || '","sequence":' || l.sequence::text
    || ',"source_topic":' || to_json(l.source_topic)::text
    || ',"subject_id":' || coalesce('"' || l.subject_id::text || '"', 'null')
    || ',"type":' || coalesce(to_json(l.type)::text, 'null')
    || '}}'"""  # noqa: S608 (fixed SQL)


@dataclass(frozen=True)
class Walked:
    """What PostgreSQL found walking a stretch of the chain."""

    # The first row that may not hold (PostgreSQL's hash of it differs, or it is not linked
    # to the row before it, or its payload is not what was hashed); None: every row holds.
    suspect: int | None
    # The last row before the suspect (or of the stretch) and its hash: every row from the
    # first up to it holds. None when there is none.
    held_until: int | None
    held_hash: bytes | None


async def walk(
    connection: Connection, *, first: int, last: int | None, previous_hash: bytes
) -> Walked:
    """Check the rows from `first` to `last` (the end when None) in the database: each in
    sequence after the one before (the first right after `first` - 1, whose row hash is
    `previous_hash`), its payload's hash, its own hash."""
    found = await connection.fetchrow(
        f"""SELECT min(sequence) FILTER (WHERE suspect) AS suspect, max(sequence) AS last
            FROM (
                SELECT l.sequence,
                       l.sequence <> coalesce(lag(l.sequence) OVER w, $1 - 1) + 1
                       OR l.previous_hash <> coalesce(lag(l.row_hash) OVER w, $3)
                       OR (l.payload IS NOT NULL AND sha256(l.payload) <> l.payload_hash)
                       OR sha256(convert_to({_CANONICAL_ROW}, 'UTF8')) <> l.row_hash
                           AS suspect
                FROM audit_log l
                WHERE l.sequence >= $1 AND ($2::bigint IS NULL OR l.sequence <= $2)
                WINDOW w AS (ORDER BY l.sequence)
            ) AS walked""",  # noqa: S608 (fixed SQL)
        first,
        last,
        previous_hash,
    )
    assert found is not None
    end = found["last"] if found["suspect"] is None else found["suspect"] - 1
    held = None
    if end is not None:
        held = await connection.fetchrow(
            """SELECT sequence, row_hash FROM audit_log WHERE sequence BETWEEN $1 AND $2
               ORDER BY sequence DESC LIMIT 1""",
            first,
            end,
        )
    if held is None:
        return Walked(found["suspect"], None, None)
    return Walked(found["suspect"], held["sequence"], bytes(held["row_hash"]))


async def rows_between(
    connection: Connection, *, first: int, last: int | None, prefetch: int = 2000
) -> AsyncIterator[ChainRow]:
    """The rows from `first` to `last` (the end when None) in sequence order, through a
    server-side cursor: never more than `prefetch` rows in memory. Needs a transaction."""
    cursor = connection.cursor(
        f"""SELECT {_COLUMNS} FROM audit_log
            WHERE sequence >= $1 AND ($2::bigint IS NULL OR sequence <= $2)
            ORDER BY sequence""",  # noqa: S608 (a fixed column list)
        first,
        last,
        prefetch=prefetch,
    )
    async for record in cursor:
        yield chain_row(record)


def chain_row(record: asyncpg.Record) -> ChainRow:
    dead_letter: Any = record["dead_letter"]
    return ChainRow(
        sequence=record["sequence"],
        entry=Entry(
            entry_id=record["entry_id"],
            event_id=record["event_id"],
            type=record["type"],
            event_time=record["event_time"],
            subject_id=record["subject_id"],
            organisation_ids=tuple(uuid.UUID(str(o)) for o in record["organisation_ids"]),
            source_topic=record["source_topic"],
            dead_letter=None if dead_letter is None else json.loads(dead_letter),
            payload=None if record["payload"] is None else bytes(record["payload"]),
            payload_hash=bytes(record["payload_hash"]),
            recorded_at=record["recorded_at"],
        ),
        previous_hash=bytes(record["previous_hash"]),
        row_hash=bytes(record["row_hash"]),
    )
