"""The hash chain: canonical payloads, linked rows, and a verifier that names the first row
that does not hold."""

import dataclasses
import datetime as dt
import uuid
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from services.audit.domain import chain
from services.audit.domain.chain import (
    GENESIS,
    ChainRow,
    ChainVerifier,
    Entry,
    Problem,
    canonical,
    instant,
    link,
    row_hash,
    sha256,
    verify,
)

NOW = dt.datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=dt.UTC)


def entry(number: int = 0, **changes: Any) -> Entry:
    payload = canonical({"number": number, "type": "no.overgang.referral.accepted.v1"})
    made = Entry(
        entry_id=uuid.UUID(int=number + 1),
        event_id=uuid.UUID(int=number + 1),
        type="no.overgang.referral.accepted.v1",
        event_time=NOW + dt.timedelta(seconds=number),
        subject_id=uuid.UUID(int=1000 + number),
        organisation_ids=(uuid.UUID(int=2000), uuid.UUID(int=2001)),
        source_topic="overgang.person.v1",
        dead_letter=None,
        payload=payload,
        payload_hash=sha256(payload),
        recorded_at=NOW + dt.timedelta(minutes=1),
    )
    return dataclasses.replace(made, **changes)


def chain_of(entries: list[Entry]) -> list[ChainRow]:
    rows: list[ChainRow] = []
    for item in entries:
        head = rows[-1] if rows else None
        rows.append(
            link(
                item,
                after_sequence=head.sequence if head else 0,
                after_hash=head.row_hash if head else None,
            )
        )
    return rows


def test_canonical_json_sorts_keys_and_drops_insignificant_whitespace() -> None:
    assert canonical({"b": [1, "x"], "a": {"d": None, "c": True}}) == (
        b'{"a":{"c":true,"d":null},"b":[1,"x"]}'
    )


# Any JSON value: text with every kind of character (controls, surrogates' neighbours, beyond
# U+FFFF), integers in and beyond the exact range, floats, nesting.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)


@given(value=json_values)
def test_canonical_json_is_the_rfc_8785_librarys_to_the_byte(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(rfc8785.CanonicalizationError):
            canonical(value)
        return
    assert canonical(value) == expected


@given(
    text=st.text(),
    sequence=st.integers(min_value=1, max_value=2**63 - 1),
    reason=st.dictionaries(st.text(), st.text(), max_size=3),
)
def test_a_rows_hash_is_over_the_rfc_8785_librarys_bytes(
    text: str, sequence: int, reason: dict[str, str]
) -> None:
    """The row hash skips `canonical`'s check of its (plain by construction) columns; with
    any text in the columns that hold text, and any sequence, it is still the library's (or
    refused as the library refuses it: a lone surrogate, a sequence beyond 2**53)."""
    row = entry(type=text, source_topic=text, dead_letter=reason)

    def hashed() -> bytes | type[Exception]:
        try:
            return row_hash(sequence, row, GENESIS)
        except Exception as error:
            return type(error)

    fast = hashed()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain, "_written_by_python", lambda _: None)
        assert fast == hashed()


def test_keys_beyond_u_ffff_are_ordered_by_utf_16_code_units() -> None:
    # By code points U+FB01 comes first; by UTF-16 units (0xD83D... for U+1F600) it is second.
    written = canonical({"\ufb01": 1, "\U0001f600": 2})
    assert written == rfc8785.dumps({"\U0001f600": 2, "\ufb01": 1})
    assert written.startswith('{"\U0001f600"'.encode())


def test_an_instant_is_written_in_utc_to_the_microsecond() -> None:
    oslo = dt.timezone(dt.timedelta(hours=1))
    assert instant(dt.datetime(2026, 3, 2, 10, 30, tzinfo=oslo)) == "2026-03-02T09:30:00.000000Z"


def test_the_first_row_follows_the_genesis_hash_and_each_row_its_predecessor() -> None:
    rows = chain_of([entry(0), entry(1), entry(2)])

    assert [row.sequence for row in rows] == [1, 2, 3]
    assert rows[0].previous_hash == GENESIS
    assert rows[1].previous_hash == rows[0].row_hash
    assert rows[2].previous_hash == rows[1].row_hash


def test_an_intact_chain_verifies_and_reports_its_head() -> None:
    rows = chain_of([entry(n) for n in range(5)])

    result = verify(rows)

    assert result.ok
    assert result.verified_rows == 5
    assert result.head_hash == rows[-1].row_hash
    assert result.head_sequence == 5
    assert result.first_bad_sequence is None


def test_an_empty_chain_verifies() -> None:
    result = verify([])

    assert result.ok
    assert result.verified_rows == 0
    assert result.head_hash == GENESIS


def test_a_changed_payload_byte_is_found_at_its_row() -> None:
    rows = chain_of([entry(n) for n in range(4)])
    payload = rows[2].entry.payload
    assert payload is not None
    tampered = payload[:5] + bytes([payload[5] ^ 1]) + payload[6:]
    rows[2] = dataclasses.replace(
        rows[2], entry=dataclasses.replace(rows[2].entry, payload=tampered)
    )

    result = verify(rows)

    assert (result.first_bad_sequence, result.problem) == (3, Problem.PAYLOAD_HASH_MISMATCH)
    assert result.verified_rows == 2


def test_a_missing_row_is_named_as_a_gap() -> None:
    rows = chain_of([entry(n) for n in range(4)])
    del rows[1]

    result = verify(rows)

    assert (result.first_bad_sequence, result.problem) == (2, Problem.SEQUENCE_GAP)


def test_a_withheld_payload_is_checked_through_its_row_hash_only() -> None:
    rows = chain_of([entry(0, payload=None)])

    assert verify(rows).ok


def test_a_stretch_verifies_from_its_anchor() -> None:
    rows = chain_of([entry(n) for n in range(6)])

    result = verify(rows[3:], first_sequence=4, previous_hash=rows[2].row_hash)

    assert result.ok
    assert result.verified_rows == 3


def test_rows_deleted_at_the_end_are_found_by_the_head() -> None:
    rows = chain_of([entry(n) for n in range(4)])
    verifier = ChainVerifier()
    for row in rows[:3]:
        verifier.check(row)

    verifier.check_head(4, rows[3].row_hash)

    assert (verifier.result().first_bad_sequence, verifier.result().problem) == (
        4,
        Problem.SEQUENCE_GAP,
    )


def test_a_head_that_names_another_hash_is_a_mismatch() -> None:
    rows = chain_of([entry(n) for n in range(2)])
    verifier = ChainVerifier()
    for row in rows:
        verifier.check(row)

    verifier.check_head(2, rows[0].row_hash)

    assert verifier.result().problem is Problem.HEAD_MISMATCH


# Every field of a row, and a way to change it to something else.
def _other_uuid(value: uuid.UUID | None) -> uuid.UUID:
    return uuid.UUID(int=((value.int if value else 0) + 1) % (1 << 128))


ENTRY_TAMPERINGS: dict[str, Any] = {
    "entry_id": lambda e: dataclasses.replace(e, entry_id=_other_uuid(e.entry_id)),
    "event_id": lambda e: dataclasses.replace(e, event_id=_other_uuid(e.event_id)),
    "type": lambda e: dataclasses.replace(e, type=(e.type or "") + "x"),
    "event_time": lambda e: dataclasses.replace(
        e, event_time=(e.event_time or NOW) + dt.timedelta(microseconds=1)
    ),
    "subject_id": lambda e: dataclasses.replace(e, subject_id=_other_uuid(e.subject_id)),
    "organisation_ids": lambda e: dataclasses.replace(
        e, organisation_ids=(*e.organisation_ids[::-1], uuid.UUID(int=7))
    ),
    "source_topic": lambda e: dataclasses.replace(e, source_topic=e.source_topic + ".x"),
    "dead_letter": lambda e: dataclasses.replace(
        e, dead_letter={**(e.dead_letter or {}), "reason": "changed"}
    ),
    "payload": lambda e: dataclasses.replace(e, payload=(e.payload or b"") + b" "),
    "payload_hash": lambda e: dataclasses.replace(e, payload_hash=sha256(e.payload_hash)),
    "recorded_at": lambda e: dataclasses.replace(
        e, recorded_at=e.recorded_at - dt.timedelta(seconds=1)
    ),
}


def _in_entry(change: Any) -> Any:
    return lambda row: dataclasses.replace(row, entry=change(row.entry))


ROW_TAMPERINGS: dict[str, Any] = {
    "previous_hash": lambda r: dataclasses.replace(r, previous_hash=sha256(r.previous_hash)),
    "row_hash": lambda r: dataclasses.replace(r, row_hash=sha256(r.row_hash)),
    "sequence": lambda r: dataclasses.replace(r, sequence=r.sequence + 7),
    **{name: _in_entry(change) for name, change in ENTRY_TAMPERINGS.items()},
}

entries = st.builds(
    lambda number, dead, withheld: entry(
        number,
        dead_letter={"reason": "handler_failed"} if dead else None,
        payload=None if withheld else entry(number).payload,
    ),
    st.integers(0, 10_000),
    st.booleans(),
    st.booleans(),
)


@given(
    chain=st.lists(entries, min_size=1, max_size=12),
    where=st.integers(min_value=0),
    field=st.sampled_from(sorted(ROW_TAMPERINGS)),
)
def test_any_tampering_with_any_field_of_any_row_is_found_at_that_row(
    chain: list[Entry], where: int, field: str
) -> None:
    rows = chain_of(chain)
    index = where % len(rows)
    rows[index] = ROW_TAMPERINGS[field](rows[index])

    result = verify(rows)

    assert not result.ok
    assert result.first_bad_sequence == index + 1
    assert result.verified_rows == index


@given(chain=st.lists(entries, min_size=2, max_size=12), where=st.integers(min_value=0))
def test_any_deleted_row_is_found_as_the_gap_it_leaves(chain: list[Entry], where: int) -> None:
    rows = chain_of(chain)
    index = where % len(rows)
    del rows[index]
    verifier = ChainVerifier()
    for row in rows:
        if not verifier.check(row):
            break
    verifier.check_head(len(chain), chain_of(chain)[-1].row_hash)

    assert verifier.result().first_bad_sequence == index + 1
    assert verifier.result().problem is Problem.SEQUENCE_GAP


@given(chain=st.lists(entries, max_size=12))
def test_an_untouched_chain_always_verifies(chain: list[Entry]) -> None:
    rows = chain_of(chain)

    assert verify(rows).ok
    assert verify(rows).verified_rows == len(rows)
