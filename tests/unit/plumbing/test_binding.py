"""Reading a binary-mode CloudEvent: its time is our envelope's to validate (RFC 3339 with an
offset), not only the SDK's."""

import datetime as dt
import uuid

import pytest

from schemas.envelope import CloudEvent
from schemas.examples import example_of
from schemas.referrals import ReferralSubmittedV1
from services.plumbing.binding import UndecodableRecord, from_record, to_record


def _event() -> CloudEvent:
    return CloudEvent.of(
        example_of(ReferralSubmittedV1),
        source="/test",
        event_id=uuid.uuid4(),
        time=dt.datetime(2026, 5, 17, 9, 30, 1, 123456, tzinfo=dt.UTC),
    )


def _with_time(time: bytes) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    record = to_record(_event())
    headers = [(n, time if n == "ce_time" else v) for n, v in record.headers]
    return record.key, record.value, headers


def test_the_time_comes_back_to_the_microsecond() -> None:
    event = _event()
    record = to_record(event)

    assert from_record(record.key, record.value, record.headers) == event


@pytest.mark.parametrize("time", [b"not a time", b"2026-05-17T09:30:01", b"2026-05-17"])
def test_a_time_that_is_not_rfc_3339_with_an_offset_is_refused(time: bytes) -> None:
    with pytest.raises(UndecodableRecord, match="attributes are invalid"):
        from_record(*_with_time(time))


def _without(name: str) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    record = to_record(_event())
    return record.key, record.value, [(n, v) for n, v in record.headers if n != name]


@pytest.mark.parametrize("attribute", ["ce_id", "ce_source", "ce_type", "ce_time"])
def test_a_record_without_a_required_attribute_is_undecodable(attribute: str) -> None:
    """Never an exception of another kind: the consumer dead-letters an UndecodableRecord
    and goes on (the SDK's own reader raised its CloudEventValidationError here, which no
    consumer caught, and the partition stalled)."""
    with pytest.raises(UndecodableRecord, match="attributes are invalid"):
        from_record(*_without(attribute))


def test_a_record_without_specversion_is_undecodable() -> None:
    with pytest.raises(UndecodableRecord, match=r"not a CloudEvents 1\.0 record"):
        from_record(*_without("ce_specversion"))


def test_an_attribute_we_do_not_know_is_refused() -> None:
    key, value, headers = _without("")
    with pytest.raises(UndecodableRecord, match="attributes are invalid"):
        from_record(key, value, [*headers, ("ce_surprise", b"x")])


def test_headers_and_keys_that_are_not_utf_8_are_undecodable() -> None:
    key, value, headers = _without("")
    with pytest.raises(UndecodableRecord, match="headers cannot be read"):
        from_record(key, value, [*headers, ("ce_subject", b"\xff\xfe")])
    with pytest.raises(UndecodableRecord, match="key is not UTF-8"):
        from_record(b"\xff", value, headers)
