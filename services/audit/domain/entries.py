"""What the audit log records of a consumed event or a dead-lettered record.

Domain events carry no personal data (the contract's rule), so their canonical bytes are kept.
What may carry personal data is kept as its hash only (payload withheld): a record that could
not be decoded (it may hold anything) and a record from an inbound topic (identity numbers
travel there). The log is kept for years and can never be edited, so nothing that might have
to be erased may go into it."""

import contextlib
import datetime as dt
import functools
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from schemas.envelope import CloudEvent
from services.audit.domain.chain import Entry, canonical, sha256

# Where the ids of dead-lettered records come from: their place on the dead-letter topic.
DEAD_LETTER_ENTRIES = uuid.uuid5(uuid.NAMESPACE_URL, "https://overgang.no/audit/dead-letters")
DEAD_LETTER_PREFIX = "dlq."
# Text columns and jsonb refuse NUL; headers of a bad record may hold anything.
_MAX_TEXT = 500


def event_payload(event: CloudEvent) -> bytes:
    """The event's canonical bytes: its CloudEvents attributes, partition key and data."""
    document = event.model_dump(mode="json")
    document["partitionkey"] = event.partition_key
    return canonical(document)


def organisations_in(data: Any) -> tuple[uuid.UUID, ...]:
    """Every organisation an event's data names (senders, receivers, actors' organisations,
    parties, recipients), in the order they first appear."""
    found: dict[str, None] = {}
    _collect(data, None, found)
    ids = []
    for text in found:
        with contextlib.suppress(ValueError):
            ids.append(uuid.UUID(text))
    return tuple(dict.fromkeys(ids))


def _collect(value: Any, key: str | None, found: dict[str, None]) -> None:
    """Only containers are descended into (this runs for every event the audit logs)."""
    if isinstance(value, dict):
        for name, inner in value.items():
            if isinstance(inner, (dict, list)):
                _collect(inner, str(name), found)
            elif isinstance(inner, str) and _names_organisations(str(name)):
                found.setdefault(inner, None)
    elif isinstance(value, list):
        naming = key is not None and _names_organisations(key)
        for inner in value:
            if isinstance(inner, (dict, list)):
                _collect(inner, key, found)
            elif naming and isinstance(inner, str):
                found.setdefault(inner, None)


@functools.lru_cache(maxsize=1024)  # keys of the events' schemas: few
def _names_organisations(key: str) -> bool:
    return key in ("organisation_id", "parties") or key.endswith(
        ("_organisation_id", "organisation_ids")
    )


def subject_in(data: Mapping[str, Any]) -> uuid.UUID | None:
    """The person an event is about, when it is about one."""
    value = data.get("subject_id")
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def event_entry(event: CloudEvent, *, topic: str, recorded_at: dt.datetime) -> Entry:
    """The log entry of an event consumed from a domain topic."""
    payload = event_payload(event)
    return Entry(
        entry_id=event.id,
        event_id=event.id,
        type=event.type,
        event_time=event.time,
        subject_id=subject_in(event.data),
        organisation_ids=organisations_in(event.data),
        source_topic=topic,
        dead_letter=None,
        payload=payload,
        payload_hash=sha256(payload),
        recorded_at=recorded_at,
    )


def dead_letter_entry(
    *,
    event: CloudEvent | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes]],
    dead_letter_topic: str,
    partition: int,
    offset: int,
    inbound: bool,
    recorded_at: dt.datetime,
) -> Entry:
    """The log entry of a record on a dead-letter topic: its reason (the dlq.* headers), and the
    event when it could be decoded; otherwise the hash of its raw bytes."""
    header_map = {name: content for name, content in headers}
    reason = {
        _text(name.removeprefix(DEAD_LETTER_PREFIX)): _text(content.decode(errors="replace"))
        for name, content in header_map.items()
        if name.startswith(DEAD_LETTER_PREFIX)
    }
    source_topic = reason.get("source_topic") or dead_letter_topic.removesuffix(".dlq")
    entry_id = uuid.uuid5(DEAD_LETTER_ENTRIES, f"{dead_letter_topic}/{partition}/{offset}")
    if event is None:
        raw = value or b""
        return Entry(
            entry_id=entry_id,
            event_id=_uuid_header(header_map.get("ce_id")),
            type=_text_header(header_map.get("ce_type")),
            event_time=None,
            subject_id=None,
            organisation_ids=(),
            source_topic=_text(source_topic),
            dead_letter=reason,
            payload=None,
            payload_hash=sha256(raw),
            recorded_at=recorded_at,
        )
    payload = event_payload(event)
    return Entry(
        entry_id=entry_id,
        event_id=event.id,
        type=event.type,
        event_time=event.time,
        subject_id=subject_in(event.data),
        organisation_ids=organisations_in(event.data),
        source_topic=_text(source_topic),
        dead_letter=reason,
        payload=None if inbound else payload,
        payload_hash=sha256(payload),
        recorded_at=recorded_at,
    )


def _text(value: str) -> str:
    return value.replace("\x00", "\ufffd")[:_MAX_TEXT]


def _text_header(value: bytes | None) -> str | None:
    return None if value is None else _text(value.decode(errors="replace"))


def _uuid_header(value: bytes | None) -> uuid.UUID | None:
    try:
        return None if value is None else uuid.UUID(value.decode())
    except (ValueError, UnicodeDecodeError):
        return None
