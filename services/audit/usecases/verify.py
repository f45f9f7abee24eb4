"""Verifying the chain, or a stretch of it, streamed from the database."""

import asyncio
import re
from collections.abc import Callable

from services.audit.domain.chain import GENESIS, ChainVerifier, Problem, Verification
from services.audit.domain.errors import InvalidRange
from services.audit.store import log
from services.plumbing.database import Connection

# Below this many rows a second connection costs more than it saves.
PARALLEL_FROM_ROWS = 20_000
_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$")


async def verify_chain(
    connection: Connection,
    *,
    first: int | None = None,
    last: int | None = None,
    helper: "Connection | None" = None,
) -> Verification:
    """Walk the rows from `first` (1 by default) to `last` (the head by default), in one
    read-only snapshot, and say where the chain first does not hold. A stretch that starts
    after row 1 is anchored on the row hash of the row before it.

    PostgreSQL hashes the rows where they are (log.walk); a row it finds suspect is checked
    in Python (domain/chain.py), which decides, and the walk goes on after it if it holds.
    With a `helper` connection, a long stretch is walked in two halves at once, in the same
    snapshot (PostgreSQL walks each on a core of its own)."""
    start = first or 1
    if last is not None and last < start:
        raise InvalidRange("to", "`to` is before `from`")
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        end = await log.head(connection)
        if start > max(end.sequence, 1):
            raise InvalidRange("from", f"the log ends at sequence {end.sequence}")
        anchor = GENESIS
        if start > 1:
            found = await log.row_hash_at(connection, start - 1)
            if found is None:
                return Verification(0, GENESIS, None, start - 1, Problem.SEQUENCE_GAP)
            anchor = found
        verifier = ChainVerifier(first_sequence=start, previous_hash=anchor)
        stretch_end = end.sequence if last is None else min(last, end.sequence)
        if helper is not None and stretch_end - start + 1 >= PARALLEL_FROM_ROWS:
            walked = await _walk_in_halves(
                connection, helper, verifier, first=start, last=stretch_end
            )
        else:
            walked = await log.walk(connection, first=start, last=last, previous_hash=anchor)
        while True:
            if walked.held_until is not None and walked.held_hash is not None:
                verifier.held(walked.held_until, walked.held_hash)
            if walked.suspect is None:
                break
            async for row in log.rows_between(
                connection, first=walked.suspect, last=walked.suspect
            ):
                verifier.check(row)
            if verifier.failed:
                break
            walked = await log.walk(
                connection,
                first=verifier.expected_sequence,
                last=last,
                previous_hash=verifier.previous_hash,
            )
        if last is None:
            verifier.check_head(end.sequence, end.row_hash)
        elif not verifier.failed and verifier.expected_sequence <= min(last, end.sequence):
            # Rows missing at the end of the stretch leave no gap between rows.
            verifier.check_head(min(last, end.sequence), None)
        return verifier.result()


async def _walk_in_halves(
    connection: Connection,
    helper: Connection,
    verifier: ChainVerifier,
    *,
    first: int,
    last: int,
) -> log.Walked:
    """The walk of `first`..`last`, its second half on `helper` in `connection`'s snapshot.
    When the first half holds to its end, the first half is taken as held (into `verifier`)
    and the second half's walk is the answer; otherwise the first half's is."""
    snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
    assert _SNAPSHOT_ID.match(snapshot), snapshot
    middle = (first + last) // 2
    async with helper.transaction(isolation="repeatable_read", readonly=True):
        await helper.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        middle_hash = await log.row_hash_at(helper, middle)
        if middle_hash is None:
            # A row missing just there: walk it all here, where the gap is found.
            return await log.walk(
                connection, first=first, last=last, previous_hash=verifier.previous_hash
            )
        first_half, second_half = await asyncio.gather(
            log.walk(connection, first=first, last=middle, previous_hash=verifier.previous_hash),
            log.walk(helper, first=middle + 1, last=last, previous_hash=middle_hash),
        )
    if first_half.suspect is not None or first_half.held_until != middle:
        return first_half
    verifier.held(middle, middle_hash)
    return second_half


# Rows per stretch when the walk reports its progress: large enough that a stretch's own
# overhead (a snapshot, an anchor, maybe a second connection) stays far below its walk.
STRETCH_ROWS = 500_000


async def verify_in_stretches(
    connection: Connection,
    *,
    first: int | None = None,
    last: int | None = None,
    helper: "Connection | None" = None,
    progress: Callable[[int, int], None],
    stretch_rows: int = STRETCH_ROWS,
) -> Verification:
    """`verify_chain`, walked a stretch at a time so that `progress(rows_walked, rows_in_all)`
    can be told after each; the same outcome, except that each stretch is its own snapshot
    (rows appended meanwhile are walked too, as the log only grows). Stops at the first
    stretch that does not hold; the last stretch also checks the head when `last` is None."""
    start = first or 1
    end = (await log.head(connection)).sequence
    stop_at = end if last is None else min(last, end)
    total = max(stop_at - start + 1, 0)
    verified = 0
    while True:
        stretch_end = start + stretch_rows - 1
        final = stretch_end >= stop_at
        found = await verify_chain(
            connection,
            first=start,
            last=last if final else stretch_end,
            helper=helper,
        )
        verified += found.verified_rows
        progress(min(verified, total), total)
        if final or not found.ok:
            return Verification(
                verified_rows=verified,
                head_hash=found.head_hash,
                head_sequence=found.head_sequence,
                first_bad_sequence=found.first_bad_sequence,
                problem=found.problem,
            )
        start = stretch_end + 1
