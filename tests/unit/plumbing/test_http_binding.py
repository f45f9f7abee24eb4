"""Reading CloudEvents from HTTP requests: what the CloudEvents SDK writes in each mode is
read back as the same event, and what is not a valid event of ours is refused naming the
attribute, never repeating its value."""

import datetime as dt
import json
import uuid

import pytest
from cloudevents.core.bindings.http import to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent
from starlette.datastructures import Headers

from services.plumbing.http_binding import (
    InvalidCloudEvents,
    Mode,
    TooManyEvents,
    UnsupportedEventMediaType,
    read_events,
)

JSON = JSONFormat()
SECRET = "01010850049"  # stands for an identity number: it must never be in an error


def _event(**attributes: object) -> SdkCloudEvent:
    return SdkCloudEvent(
        {
            "type": "no.overgang.inbound.pupil_left_school.v1",
            # A space, a quote, a percent sign and a non-ASCII letter: percent-encoded in a
            # header (HTTP binding, 3.1.3.2), and decoded again by the receiver.
            "source": '/skoler/bø vgs/"sis"/100%',
            "id": str(uuid.uuid4()),
            "time": dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC),
            "datacontenttype": "application/json",
            **attributes,
        },
        {"national_identity_number": SECRET},
    )


def _headers(headers: dict[str, str]) -> Headers:
    raw = [(name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()]
    return Headers(raw=raw)


def test_binary_mode_from_the_sdk_is_read_back_with_its_header_values_decoded() -> None:
    event = _event()
    message = to_binary(event, JSON)
    assert "%20" in message.headers["ce-source"]  # the SDK encoded it

    mode, (read,) = read_events(_headers(message.headers), message.body, max_batch=10)

    assert mode is Mode.BINARY
    assert read.source == event.get_source()
    assert str(read.id) == event.get_id()
    assert read.time == event.get_time()
    assert read.data == event.get_data()
    assert read.partition_key == event.get_id()


def test_structured_and_batch_modes_from_the_sdk_are_read_back() -> None:
    first, second = _event(), _event()
    structured = to_structured(first, JSON)
    batch = b"[" + JSON.write(first) + b"," + JSON.write(second) + b"]"

    mode, (read,) = read_events(_headers(structured.headers), structured.body, max_batch=10)
    batch_mode, both = read_events(
        _headers({"content-type": "application/cloudevents-batch+json"}), batch, max_batch=10
    )

    assert mode is Mode.STRUCTURED
    assert read.source == first.get_source()
    assert batch_mode is Mode.BATCH
    assert [str(event.id) for event in both] == [first.get_id(), second.get_id()]


def test_a_header_that_percent_encodes_no_utf8_is_refused() -> None:
    message = to_binary(_event(), JSON)
    headers = {**message.headers, "ce-source": "/s%FF"}

    with pytest.raises(InvalidCloudEvents) as refused:
        read_events(_headers(headers), message.body, max_batch=10)

    assert [(p.field, p.code) for p in refused.value.problems] == [("source", "invalid_encoding")]


def test_ce_headers_in_structured_mode_are_refused() -> None:
    message = to_structured(_event(), JSON)
    headers = {**message.headers, "ce-id": str(uuid.uuid4())}

    with pytest.raises(InvalidCloudEvents) as refused:
        read_events(_headers(headers), message.body, max_batch=10)

    assert [p.code for p in refused.value.problems] == ["ce_header_outside_binary_mode"]


def test_an_attribute_name_that_is_not_a_cloudevents_name_is_refused() -> None:
    # It would otherwise set the envelope's partition key.
    body = json.loads(JSON.write(_event()))
    body["partition_key"] = "mine"

    with pytest.raises(InvalidCloudEvents) as refused:
        read_events(
            _headers({"content-type": "application/cloudevents+json"}),
            json.dumps(body).encode(),
            max_batch=10,
        )

    assert [(p.field, p.code) for p in refused.value.problems] == [
        ("partition_key", "invalid_attribute_name")
    ]


def test_errors_never_repeat_a_value() -> None:
    body = json.loads(JSON.write(_event()))
    body["id"] = SECRET
    body["time"] = SECRET

    with pytest.raises(InvalidCloudEvents) as refused:
        read_events(
            _headers({"content-type": "application/cloudevents+json"}),
            json.dumps(body).encode(),
            max_batch=10,
        )

    assert {p.field for p in refused.value.problems} == {"id", "time"}
    assert SECRET not in str(refused.value)
    assert SECRET not in repr(refused.value.problems)


def test_media_types_and_batch_sizes_outside_the_rules_are_refused() -> None:
    with pytest.raises(UnsupportedEventMediaType):
        read_events(_headers({"content-type": "text/plain"}), b"{}", max_batch=10)
    with pytest.raises(UnsupportedEventMediaType):
        read_events(_headers({}), b"{}", max_batch=10)
    batch = b"[" + b",".join(JSON.write(_event()) for _ in range(3)) + b"]"
    with pytest.raises(TooManyEvents):
        read_events(
            _headers({"content-type": "application/cloudevents-batch+json"}), batch, max_batch=2
        )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": NaN}', "not JSON: NaN is not JSON"),
        (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
        (b"\xff", "not UTF-8"),
        (b'{"a": ', "not JSON: Expecting value"),
    ],
)
def test_a_body_that_is_not_plain_json_is_refused_saying_why(body: bytes, message: str) -> None:
    with pytest.raises(InvalidCloudEvents) as refused:
        read_events(
            _headers({"content-type": "application/cloudevents-batch+json"}), body, max_batch=10
        )

    (problem,) = refused.value.problems
    assert (problem.field, problem.code) == ("(body)", "invalid_json")
    assert problem.message.startswith(message)
