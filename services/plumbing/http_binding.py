"""CloudEvents over HTTP (the CloudEvents HTTP protocol binding, 1.0.2), read strictly into
our envelope, for systems that cannot speak Kafka. Three content modes:

- binary: the attributes are `ce-*` headers (percent-encoded, section 3.1.3.2), the
  `Content-Type` header is the `datacontenttype`, the body is the data;
- structured: `application/cloudevents+json`, the body is one event in the JSON event format;
- batch: `application/cloudevents-batch+json`, the body is a JSON array of such events.

What comes in over HTTP comes from another system: it is an inbound event, keyed on Kafka by
its id (schemas.topics KeyedBy.EVENT), so that is the partition key each event gets here.
The data must be a JSON object (`application/json`); `data_base64` is refused. Our envelope
is stricter than CloudEvents in places and says so in its errors: the id is a UUID, `time`
is required, and no extension attributes are taken.

Errors name the attribute or field and what is wrong with it, never its value: the data may
hold a national identity number."""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from pydantic import ValidationError
from starlette.datastructures import Headers

from schemas.envelope import CloudEvent

BINARY_DATA = "application/json"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
# What a request to an event ingress may carry, in the order the 415's Accept lists them.
MEDIA_TYPES = (BINARY_DATA, STRUCTURED, BATCH)
_CE_PREFIX = "ce-"
# Members of the JSON event format that are not attributes.
_DATA_MEMBERS = frozenset({"data", "data_base64"})
_REQUIRED = ("specversion", "id", "source", "type")
# CloudEvents attribute names: lower-case letters and digits (spec, "Attribute Naming").
_ATTRIBUTE_NAME = re.compile(r"^[a-z0-9]{1,20}$")
# The JSON event format's Timestamp: RFC 3339 (pydantic alone would also take a number of
# seconds since 1970).
_RFC_3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class Mode(StrEnum):
    BINARY = "binary"
    STRUCTURED = "structured"
    BATCH = "batch"


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` → `application/json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def mode_of(content_type: str | None) -> Mode | None:
    """The content mode a request's Content-Type says, or None for one we do not take."""
    return {
        BINARY_DATA: Mode.BINARY,
        STRUCTURED: Mode.STRUCTURED,
        BATCH: Mode.BATCH,
    }.get(media_type(content_type))


@dataclass(frozen=True)
class EventProblem:
    """What is wrong with one event: which (its index in a batch, else None), which attribute
    or field, where it was in the request, and what was wrong, in words and as a code."""

    index: int | None
    field: str
    location: tuple[str | int, ...]
    message: str
    code: str


class InvalidCloudEvents(Exception):
    """The request holds events that are not valid CloudEvents of ours (400); each problem
    names its event and field. Nothing of the request is acted on."""

    def __init__(self, problems: Sequence[EventProblem], detail: str | None = None) -> None:
        self.problems = tuple(problems)
        indexes = sorted({p.index for p in problems if p.index is not None})
        if detail is None and indexes:
            detail = "the batch is refused whole; invalid events at index " + ", ".join(
                map(str, indexes)
            )
        elif detail is None:
            detail = "the event is not a valid CloudEvent: " + "; ".join(
                f"{p.field}: {p.message}" for p in problems
            )
        super().__init__(detail)


class UnsupportedEventMediaType(Exception):
    """The Content-Type is none of MEDIA_TYPES (415)."""

    def __init__(self, content_type: str | None) -> None:
        given = f"not {media_type(content_type)!r}" if content_type else "and none was given"
        super().__init__(
            "events are taken as application/json (binary mode, attributes in ce- headers), "
            f"application/cloudevents+json or application/cloudevents-batch+json, {given}"
        )


class TooManyEvents(Exception):
    """A batch holds more events than an ingress takes at once (413)."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"a batch may hold at most {limit} events; this one holds {count}")
        self.limit = limit


def read_events(headers: Headers, body: bytes, *, max_batch: int) -> tuple[Mode, list[CloudEvent]]:
    """The request's events, in order, each valid as our envelope (its data not yet checked
    against its type); InvalidCloudEvents, UnsupportedEventMediaType or TooManyEvents."""
    content_type = headers.get("content-type")
    mode = mode_of(content_type)
    if mode is None:
        raise UnsupportedEventMediaType(content_type)
    if mode is Mode.BINARY:
        return mode, [_binary(headers, body)]
    # Structured and batch modes: the attributes are in the body, not in ce- headers.
    stray = sorted({name.lower() for name in headers if name.lower().startswith(_CE_PREFIX)})
    if stray:
        raise InvalidCloudEvents(
            [
                EventProblem(
                    None,
                    name,
                    ("header", name),
                    "ce- headers belong to binary mode; in structured and batch modes the "
                    "attributes are in the body",
                    "ce_header_outside_binary_mode",
                )
                for name in stray
            ]
        )
    document = _json(body)
    if mode is Mode.STRUCTURED:
        return mode, [_structured(document, None)]
    if not isinstance(document, list):
        raise InvalidCloudEvents(
            [_problem(None, "(body)", ("body",), "a batch is a JSON array of events", "not_array")]
        )
    if len(document) > max_batch:
        raise TooManyEvents(len(document), max_batch)
    events: list[CloudEvent] = []
    problems: list[EventProblem] = []
    for index, member in enumerate(document):
        try:
            events.append(_structured(member, index))
        except InvalidCloudEvents as error:
            problems.extend(error.problems)
    if problems:
        raise InvalidCloudEvents(problems)
    return mode, events


def _problem(
    index: int | None, field: str, location: tuple[str | int, ...], message: str, code: str
) -> EventProblem:
    return EventProblem(index, field, location, message, code)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json(body: bytes) -> Any:
    """The body as JSON (RFC 8259: no NaN or Infinity, which Python alone would take and
    other consumers could not read back)."""
    try:
        return json.loads(body, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        # The decoder's message says where, never what.
        message = f"not JSON: {error.msg} at line {error.lineno} column {error.colno}"
    except UnicodeDecodeError:
        message = "not UTF-8"
    except ValueError as error:
        message = f"not JSON: {error}"
    except RecursionError:
        message = "nested too deeply"
    raise InvalidCloudEvents([EventProblem(None, "(body)", ("body",), message, "invalid_json")])


def _binary(headers: Headers, body: bytes) -> CloudEvent:
    attributes: dict[str, Any] = {}
    problems: list[EventProblem] = []
    for name in sorted({key.lower() for key in headers if key.lower().startswith(_CE_PREFIX)}):
        attribute = name.removeprefix(_CE_PREFIX)
        values = headers.getlist(name)
        location: tuple[str | int, ...] = ("header", name)
        if len(values) > 1:
            problems.append(_problem(None, attribute, location, "given more than once", "repeated"))
            continue
        if attribute == "datacontenttype":
            problems.append(
                _problem(
                    None,
                    attribute,
                    location,
                    "in binary mode the Content-Type header is the datacontenttype",
                    "datacontenttype_in_header",
                )
            )
            continue
        try:
            attributes[attribute] = unquote(values[0], errors="strict")
        except UnicodeDecodeError:
            problems.append(
                _problem(None, attribute, location, "percent-encodes no UTF-8", "invalid_encoding")
            )
    attributes["datacontenttype"] = BINARY_DATA
    data = _json(body)
    return _envelope(attributes, data, None, problems, header_locations=True)


def _structured(document: Any, index: int | None) -> CloudEvent:
    where: tuple[str | int, ...] = ("body",) if index is None else ("body", index)
    if not isinstance(document, dict):
        raise InvalidCloudEvents(
            [_problem(index, "(event)", where, "an event is a JSON object", "not_object")]
        )
    problems: list[EventProblem] = []
    if "data_base64" in document:
        problems.append(
            _problem(
                index,
                "data_base64",
                (*where, "data_base64"),
                "the data must be JSON (application/json), not base64",
                "binary_data",
            )
        )
    attributes = {name: value for name, value in document.items() if name not in _DATA_MEMBERS}
    content_type = attributes.get("datacontenttype", BINARY_DATA)
    if isinstance(content_type, str) and media_type(content_type) == BINARY_DATA:
        # `application/json; charset=utf-8` is application/json: JSON is UTF-8 here anyway.
        attributes["datacontenttype"] = BINARY_DATA
    return _envelope(attributes, document.get("data"), index, problems, header_locations=False)


def _envelope(
    attributes: dict[str, Any],
    data: Any,
    index: int | None,
    problems: list[EventProblem],
    *,
    header_locations: bool,
) -> CloudEvent:
    def location(name: str) -> tuple[str | int, ...]:
        if header_locations:
            return (
                ("header", "content-type")
                if name == "datacontenttype"
                else ("header", "ce-" + name)
            )
        return ("body", name) if index is None else ("body", index, name)

    for name in sorted(attributes):
        if not _ATTRIBUTE_NAME.match(name):
            problems.append(
                _problem(
                    index,
                    name,
                    location(name),
                    "not a CloudEvents attribute name (lower-case letters and digits)",
                    "invalid_attribute_name",
                )
            )
    for name in _REQUIRED:
        # An attribute that was there but could not be read is not missing as well.
        if name not in attributes and name not in {p.field for p in problems}:
            problems.append(
                _problem(index, name, location(name), "a required attribute is missing", "missing")
            )
    if "specversion" in attributes and attributes["specversion"] != "1.0":
        problems.append(
            _problem(
                index,
                "specversion",
                location("specversion"),
                "only CloudEvents 1.0 is taken",
                "unsupported_specversion",
            )
        )
    time = attributes.get("time")
    if time is not None and not (isinstance(time, str) and _RFC_3339.match(time)):
        problems.append(
            _problem(
                index,
                "time",
                location("time"),
                "must be an RFC 3339 timestamp with an offset, e.g. 2026-12-01T08:30:00Z",
                "invalid_timestamp",
            )
        )
    data_location: tuple[str | int, ...] = (
        ("body",) if header_locations else (*location("data")[:-1], "data")
    )
    if not isinstance(data, dict):
        problems.append(
            _problem(index, "data", data_location, "the data must be a JSON object", "not_object")
        )
    reported = {p.field for p in problems}
    identifier = attributes.get("id")
    try:
        event = CloudEvent.model_validate(
            {**attributes, "data": data, "partition_key": str(identifier)}
        )
    except ValidationError as error:
        for item in error.errors(include_url=False, include_context=False, include_input=False):
            name = str(item["loc"][0]) if item["loc"] else "(event)"
            # The partition key is the id, whose own errors say what is wrong.
            if name == "partition_key" or name in reported:
                continue
            message = (
                "not an attribute Overgang takes (no extension attributes)"
                if item["type"] == "extra_forbidden"
                else item["msg"]
            )
            if name == "id" and item["type"].startswith("uuid"):
                message = "Overgang's event ids are UUIDs: " + item["msg"]
            problems.append(_problem(index, name, location(name), message, item["type"]))
    if problems:
        raise InvalidCloudEvents(problems)
    return event
