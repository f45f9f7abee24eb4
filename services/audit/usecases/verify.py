"""Verifying the chain, or a stretch of it, streamed from the database."""

from services.audit.domain.chain import GENESIS, ChainVerifier, Problem, Verification
from services.audit.domain.errors import InvalidRange
from services.audit.store import log
from services.plumbing.database import Connection


async def verify_chain(
    connection: Connection, *, first: int | None = None, last: int | None = None
) -> Verification:
    """Walk the rows from `first` (1 by default) to `last` (the head by default), in one
    read-only snapshot, and say where the chain first does not hold. A stretch that starts
    after row 1 is anchored on the row hash of the row before it.

    PostgreSQL hashes the rows where they are (log.walk); a row it finds suspect is checked
    in Python (domain/chain.py), which decides, and the walk goes on after it if it holds."""
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
        while not verifier.failed:
            walked = await log.walk(
                connection,
                first=verifier.expected_sequence,
                last=last,
                previous_hash=verifier.previous_hash,
            )
            if walked.held_until is not None and walked.held_hash is not None:
                verifier.held(walked.held_until, walked.held_hash)
            if walked.suspect is None:
                break
            async for row in log.rows_between(
                connection, first=walked.suspect, last=walked.suspect
            ):
                verifier.check(row)
        if last is None:
            verifier.check_head(end.sequence, end.row_hash)
        elif not verifier.failed and verifier.expected_sequence <= min(last, end.sequence):
            # Rows missing at the end of the stretch leave no gap between rows.
            verifier.check_head(min(last, end.sequence), None)
        return verifier.result()
