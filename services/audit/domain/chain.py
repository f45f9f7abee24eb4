"""The hash chain of the audit log: how an event becomes canonical bytes, how a row is linked
to the one before it, and how a chain (or a stretch of it) is verified.

- An event's payload is its CloudEvent (attributes, partition key and data) in the JSON
  Canonicalization Scheme (RFC 8785), so the same event always gives the same bytes.
- payload_hash = SHA-256(payload).
- row_hash = SHA-256 of the RFC 8785 form of every column of the row: its sequence number, ids,
  type, times, subject, organisations, source topic, dead-letter reason, payload hash and the
  previous row's hash. Changing any of them, in any row, breaks that row's hash; removing a
  row leaves a gap in the sequence; rewriting a row and everything after it changes the head,
  which the checkpoints published outside the database make visible.
- The first row's previous hash is GENESIS."""

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import rfc8785

HASH_BYTES = 32
GENESIS = hashlib.sha256(b"overgang.audit.log.genesis.v1").digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# JSON without floats, without integers beyond what RFC 8785 takes exactly, with text keys
# and no character beyond U+FFFF is written by Python's own (C) encoder, sorting keys and
# without spaces, exactly as RFC 8785 writes it: the same escapes (\b \t \n \f \r \" \\
# and \u00xx in lower case for other control characters, nothing else), and keys in the same
# order (UTF-16 code units and code points order alike within U+FFFF). That takes a few
# microseconds where the library takes tens; anything else goes to the library. The property
# test in tests/unit/audit/test_chain.py holds the two to the same bytes.
_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")
_LARGEST_EXACT = 2**53 - 1


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON of a JSON value (dicts, lists, strings, ints, bools, None)."""
    if _plain(value) and (written := _written_by_python(value)) is not None:
        return written
    return rfc8785.dumps(value)


def _written_by_python(plain: Any) -> bytes | None:
    """A plain value (see `_plain`) as Python's encoder writes it; None when that could differ
    from RFC 8785 (characters beyond U+FFFF) or fail (a lone surrogate: the library then says
    what is wrong)."""
    text = json.dumps(
        plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    if _BEYOND_BMP.search(text):
        return None
    try:
        return text.encode()
    except UnicodeEncodeError:
        return None


def _plain(value: Any) -> bool:
    """Whether `value` is JSON that Python's encoder writes as RFC 8785 does (but for
    characters beyond U+FFFF, which `canonical` looks for in what it wrote)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str) or item is None or isinstance(item, bool):
            continue
        if isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, str):
                    return False
                if not isinstance(inner, str):
                    pending.append(inner)
        elif isinstance(item, list):
            pending.extend(item)
        elif not (isinstance(item, int) and -_LARGEST_EXACT <= item <= _LARGEST_EXACT):
            return False
    return True


def instant(moment: dt.datetime) -> str:
    """A point in time as the chain writes it: UTC, to the microsecond (what PostgreSQL keeps)."""
    if moment.tzinfo is None:
        raise ValueError("a time in the audit log must be timezone-aware")
    # isoformat: the same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ") in a third of the time.
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@dataclass(frozen=True)
class Entry:
    """What one row of the log says, before it is linked into the chain."""

    entry_id: uuid.UUID
    event_id: uuid.UUID | None
    type: str | None
    event_time: dt.datetime | None
    subject_id: uuid.UUID | None
    organisation_ids: tuple[uuid.UUID, ...]
    source_topic: str
    # The dlq.* headers of a dead-lettered record, without the prefix; None for an event.
    dead_letter: Mapping[str, str] | None
    # None when withheld (see services/audit/domain/entries.py); its hash is kept regardless.
    payload: bytes | None
    payload_hash: bytes
    recorded_at: dt.datetime


@dataclass(frozen=True)
class ChainRow:
    """One row of the log as stored: an entry, its place in the chain and its hashes."""

    sequence: int
    entry: Entry
    previous_hash: bytes
    row_hash: bytes


def row_hash(sequence: int, entry: Entry, previous_hash: bytes) -> bytes:
    """SHA-256 over the canonical form of every column of the row."""
    row: dict[str, Any] = {
        "sequence": sequence,
        "entry_id": str(entry.entry_id),
        "event_id": None if entry.event_id is None else str(entry.event_id),
        "type": entry.type,
        "event_time": None if entry.event_time is None else instant(entry.event_time),
        "subject_id": None if entry.subject_id is None else str(entry.subject_id),
        "organisation_ids": [str(organisation) for organisation in entry.organisation_ids],
        "source_topic": entry.source_topic,
        "dead_letter": None if entry.dead_letter is None else dict(entry.dead_letter),
        "payload_hash": entry.payload_hash.hex(),
        "previous_hash": previous_hash.hex(),
        "recorded_at": instant(entry.recorded_at),
    }
    # Every column is text, None, a list or map of text, or the sequence: plain by
    # construction, so `canonical`'s walk over it (a tenth of a row's hashing) is skipped.
    plain = sequence <= _LARGEST_EXACT
    written = _written_by_python(row) if plain else None
    return sha256(written if written is not None else rfc8785.dumps(row))


def link(entry: Entry, *, after_sequence: int, after_hash: bytes | None) -> ChainRow:
    """The entry as the next row after the given head (sequence 0 and None: an empty log)."""
    previous = GENESIS if after_hash is None else after_hash
    sequence = after_sequence + 1
    return ChainRow(sequence, entry, previous, row_hash(sequence, entry, previous))


class Problem(StrEnum):
    """What is wrong at the first bad row."""

    SEQUENCE_GAP = "sequence_gap"  # a row is missing (or its sequence number was changed)
    PAYLOAD_HASH_MISMATCH = "payload_hash_mismatch"  # the payload is not what was hashed
    PREVIOUS_HASH_MISMATCH = "previous_hash_mismatch"  # not linked to the row before it
    ROW_HASH_MISMATCH = "row_hash_mismatch"  # a column changed after it was written
    HEAD_MISMATCH = "head_mismatch"  # the log ends before, or elsewhere than, its head


@dataclass(frozen=True)
class Verification:
    """The outcome of walking (a stretch of) the chain."""

    verified_rows: int
    # The row hash of the last row found good (the anchor when none was).
    head_hash: bytes
    # The sequence number of the last row found good; None when none was.
    head_sequence: int | None
    first_bad_sequence: int | None
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class ChainVerifier:
    """Walks rows in sequence order, one at a time (so a caller can stream millions), and
    stops at the first row that does not hold."""

    def __init__(self, *, first_sequence: int = 1, previous_hash: bytes = GENESIS) -> None:
        self.expected_sequence = first_sequence
        self.previous_hash = previous_hash
        self.verified_rows = 0
        self.last_good: int | None = None
        self.first_bad_sequence: int | None = None
        self.problem: Problem | None = None

    @property
    def failed(self) -> bool:
        return self.problem is not None

    def check(self, row: ChainRow) -> bool:
        """True when the row holds; False (and the failure recorded) when it does not."""
        if self.failed:
            return False
        if row.sequence != self.expected_sequence:
            return self._fail(self.expected_sequence, Problem.SEQUENCE_GAP)
        if row.entry.payload is not None and sha256(row.entry.payload) != row.entry.payload_hash:
            return self._fail(row.sequence, Problem.PAYLOAD_HASH_MISMATCH)
        if row.previous_hash != self.previous_hash:
            return self._fail(row.sequence, Problem.PREVIOUS_HASH_MISMATCH)
        if row_hash(row.sequence, row.entry, row.previous_hash) != row.row_hash:
            return self._fail(row.sequence, Problem.ROW_HASH_MISMATCH)
        self.verified_rows += 1
        self.last_good = row.sequence
        self.previous_hash = row.row_hash
        self.expected_sequence += 1
        return True

    def held(self, last_sequence: int, last_hash: bytes) -> None:
        """The rows from the next expected one to `last_sequence` were found to hold
        elsewhere (hashed by the database, see store/log.py); go on after them."""
        if self.failed or last_sequence < self.expected_sequence:
            return
        self.verified_rows += last_sequence - self.expected_sequence + 1
        self.last_good = last_sequence
        self.previous_hash = last_hash
        self.expected_sequence = last_sequence + 1

    def check_head(self, head_sequence: int, head_hash: bytes | None) -> None:
        """After the last row: the log must end exactly at its recorded head (a row deleted at
        the end leaves no gap, but the head still names it)."""
        if self.failed:
            return
        walked_to = self.expected_sequence - 1
        expected_hash = GENESIS if head_hash is None else head_hash
        if head_sequence > walked_to:
            self._fail(walked_to + 1, Problem.SEQUENCE_GAP)
        elif head_sequence < walked_to or expected_hash != self.previous_hash:
            self._fail(head_sequence, Problem.HEAD_MISMATCH)

    def result(self) -> Verification:
        return Verification(
            verified_rows=self.verified_rows,
            head_hash=self.previous_hash,
            head_sequence=self.last_good,
            first_bad_sequence=self.first_bad_sequence,
            problem=self.problem,
        )

    def _fail(self, sequence: int, problem: Problem) -> bool:
        self.first_bad_sequence = sequence
        self.problem = problem
        return False


def verify(
    rows: Iterable[ChainRow], *, first_sequence: int = 1, previous_hash: bytes = GENESIS
) -> Verification:
    """Walk `rows` (in sequence order) and say whether they hold, and where they first do not."""
    verifier = ChainVerifier(first_sequence=first_sequence, previous_hash=previous_hash)
    for row in rows:
        if not verifier.check(row):
            break
    return verifier.result()
