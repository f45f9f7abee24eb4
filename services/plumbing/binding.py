"""CloudEvents on Kafka in the binary content mode (the CloudEvents Kafka protocol binding):
attributes as `ce_*` headers, JSON data as the record value, the partition key as the record
key. The `cloudevents` SDK writes them, so any other SDK reads them; reading is the binding's
header mapping checked by our envelope, so any other SDK's records are read alike."""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cloudevents.core.bindings.kafka import to_binary
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
    """Read a binary-mode CloudEvent, strictly: what is not a CloudEvents 1.0 event with a
    JSON object as its data is an UndecodableRecord saying why."""
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
    # The binding's mapping: every ce_* header is the attribute of that name, the record key is
    # the partition key. Our envelope below checks every attribute, more strictly than the
    # SDK's from_binary, which we used before and which cost a twentieth of the audit's time
    # per event for checks that the envelope made again.
    try:
        attributes: dict[str, object] = {
            name[3:]: content.decode() for name, content in header_map.items() if name[:3] == "ce_"
        }
    except UnicodeDecodeError as error:
        raise UndecodableRecord(f"the CloudEvents headers cannot be read: {error}") from None
    attributes.pop(_PARTITION_KEY, None)
    try:
        attributes["partition_key"] = key.decode()
    except UnicodeDecodeError:
        raise UndecodableRecord("the record key is not UTF-8 text") from None
    try:
        return CloudEvent.model_validate({**attributes, "data": data})
    except ValidationError as error:
        raise UndecodableRecord(f"the CloudEvents attributes are invalid: {error}") from None
