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
