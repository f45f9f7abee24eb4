"""CloudEvents on Kafka in the binary content mode (the CloudEvents Kafka protocol binding):
attributes as `ce_*` headers, JSON data as the record value, the partition key as the record
key. The `cloudevents` SDK does the mapping, so any other SDK reads and writes the same."""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent
from pydantic import ValidationError

from schemas.envelope import CloudEvent

_JSON = JSONFormat()
# Attributes of ours that the SDK carries as extensions on the wire.
_PARTITION_KEY = "partitionkey"


class UndecodableRecord(Exception):
    """A Kafka record that is not a CloudEvent we can read; the message says why."""


@dataclass(frozen=True)
class KafkaRecord:
    """What goes to or comes from Kafka for one event."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def to_record(event: CloudEvent, extra_headers: Mapping[str, bytes] | None = None) -> KafkaRecord:
    """The event in binary mode; `extra_headers` (e.g. W3C trace context) travel beside it."""
    attributes = event.model_dump(mode="python", exclude={"data"})
    attributes["id"] = str(event.id)
    attributes[_PARTITION_KEY] = event.partition_key
    if attributes.get("subject") is None:
        attributes.pop("subject", None)
    message = to_binary(SdkCloudEvent(attributes, event.data), _JSON)
    headers = [*message.headers.items(), *(extra_headers or {}).items()]
    return KafkaRecord(key=event.partition_key.encode(), value=message.value, headers=headers)


def from_record(
    key: bytes | None, value: bytes | None, headers: Iterable[tuple[str, bytes]]
) -> CloudEvent:
    """Read a binary-mode CloudEvent, strictly: the SDK alone accepts a missing specversion and
    a value that is not JSON, so those are checked here first."""
    header_map = {name.lower(): content for name, content in headers}
    if header_map.get("ce_specversion") != b"1.0":
        raise UndecodableRecord(
            "not a CloudEvents 1.0 record: ce_specversion is missing or not 1.0"
        )
    content_type = header_map.get("content-type", b"application/json")
    if content_type.split(b";")[0].strip() != b"application/json":
        raise UndecodableRecord(f"data must be application/json, not {content_type!r}")
    if key is None:
        raise UndecodableRecord("the record has no key")
    try:
        data = json.loads(value or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UndecodableRecord(f"the value is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise UndecodableRecord("the value is JSON but not an object")
    try:
        sdk_event = from_binary(
            KafkaMessage(
                # ce_time is left to our envelope's validation below (RFC 3339, with an
                # offset); the SDK's own parsing of it, through dateutil, cost a tenth of
                # the audit's time per event.
                headers={
                    n: c for n, c in header_map.items() if n.startswith("ce_") and n != "ce_time"
                }
                | {"content-type": b"application/json"},
                key=key,
                # The data is `data` above: the SDK need not parse the JSON a second time.
                value=b"",
            ),
            _JSON,
        )
        attributes = dict(sdk_event.get_attributes())
    except (ValueError, TypeError, UnicodeDecodeError) as error:
        raise UndecodableRecord(f"the CloudEvents headers cannot be read: {error}") from None
    # The SDK turns the record key into the partitionkey extension.
    attributes["partition_key"] = attributes.pop(_PARTITION_KEY, key.decode(errors="replace"))
    if (time := header_map.get("ce_time")) is not None:
        attributes["time"] = time.decode(errors="replace")
    try:
        return CloudEvent.model_validate({**attributes, "data": data})
    except ValidationError as error:
        raise UndecodableRecord(f"the CloudEvents attributes are invalid: {error}") from None
