"""The AsyncAPI 3.0 document of the contract, built from `schemas.topics`, the registry and
the models: channels are topics (and their dead-letter topics), messages are event types in
the CloudEvents Kafka binding (binary mode), operations say which service sends and receives
what."""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic.json_schema import models_json_schema

from schemas.dead_letters import DeadLetterReason
from schemas.envelope import CloudEvent, EventData
from schemas.examples import example_of
from schemas.registry import EVENT_TYPES
from schemas.topics import (
    ACCESS,
    AUDIT,
    DEADLINE,
    DIRECTORY,
    INBOUND_SCHOOL,
    NOTIFICATION,
    PERSON,
    TOPICS,
    Topic,
)

CONTRACT_VERSION = "1.0.0"
_KAFKA_BINDING = "0.5.0"
_SCHEMAS = "#/components/schemas/"
_EXAMPLE_ID = uuid.UUID("e0e0e0e0-1234-4567-89ab-cdef01234567")
_EXAMPLE_TIME = dt.datetime(2026, 9, 14, 9, 30, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Service:
    """What one service publishes and consumes."""

    name: str
    sends: tuple[Topic, ...]
    receives: tuple[Topic, ...]
    purpose: str


SERVICES: tuple[Service, ...] = (
    Service(
        "referral",
        sends=(PERSON, DIRECTORY, ACCESS),
        receives=(INBOUND_SCHOOL, DEADLINE),
        purpose="owns organisations, agreements, persons, consents and referrals; publishes "
        "through its outbox; pseudonymises inbound events at the door",
    ),
    Service(
        "notifier",
        sends=(NOTIFICATION,),
        receives=(PERSON, DIRECTORY, DEADLINE),
        purpose="notifies organisations of domain events by webhook, e-mail and inbox",
    ),
    Service(
        "audit",
        sends=(DEADLINE, AUDIT),
        # Every topic but the inbound ones: those carry identity numbers, and the audit log
        # keeps what it receives for years. The referral service's events stand for them.
        receives=tuple(topic for topic in TOPICS if not topic.inbound),
        purpose="keeps the hash-chained log of every event, timelines and deadlines, and "
        "publishes checkpoints of its chain head",
    ),
)
# Who writes to inbound topics: systems outside Overgang.
_SOURCES = {INBOUND_SCHOOL: "/school-administration/example"}


def channel_id(topic: Topic) -> str:
    """The channel's key in the document, e.g. `person` for overgang.person.v1."""
    return "_".join(topic.name.split(".")[1:-1])


def _dead_letter_id(topic: Topic) -> str:
    return f"{channel_id(topic)}_dead_letters"


def _producer(topic: Topic) -> str:
    if topic in _SOURCES:
        return _SOURCES[topic]
    return next(f"/overgang/{s.name}" for s in SERVICES if topic in s.sends)


def _headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes in the Kafka protocol binding, binary mode, "
        "plus W3C trace context; every value is UTF-8 text",
        "required": ["ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "content-type"],
        "properties": {
            "ce_id": {"type": "string", "format": "uuid", "description": "the event's id"},
            "ce_type": {
                "type": "string",
                "pattern": r"^no\.overgang\.[a-z_]+\.[a-z_]+\.v[0-9]+$",
                "description": "the event type, which names the data's schema",
            },
            "ce_source": {
                "type": "string",
                "maxLength": 200,
                "description": "URI-reference of the producer, e.g. /overgang/referral",
            },
            "ce_specversion": {"type": "string", "const": "1.0"},
            "ce_time": {
                "type": "string",
                "format": "date-time",
                "description": "when the event was produced",
            },
            "ce_subject": {
                "type": "string",
                "format": "uuid",
                "description": "the id of the thing the event is about (a referral, consent, "
                "organisation, ...); never a person's data; absent on inbound events",
            },
            "ce_partitionkey": {
                "type": "string",
                "maxLength": 200,
                "description": "CloudEvents partitioning extension: the record key",
            },
            "content-type": {"type": "string", "const": "application/json"},
            "traceparent": {
                "type": "string",
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                "description": "W3C trace context",
            },
            "tracestate": {"type": "string", "maxLength": 512, "description": "W3C trace context"},
        },
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "dead_letter",
        "title": "DeadLetter",
        "summary": "A record that could not be handled, copied unchanged with the reason.",
        "description": "The key, value and headers of the original record, unchanged (the value "
        "may not be valid JSON), plus `dlq.*` headers that say why, set by the consumer that "
        "gave up. Records are listed and replayed from here; nothing is dropped.",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "required": ["dlq.reason"],
            "properties": {
                "dlq.reason": {
                    "type": "string",
                    "enum": [reason.value for reason in DeadLetterReason],
                },
                "dlq.error_class": {"type": "string"},
                "dlq.error_message": {
                    "type": "string",
                    "maxLength": 500,
                    "description": "what failed, without the offending values",
                },
                "dlq.source_topic": {"type": "string"},
                "dlq.source_partition": {"type": "string", "pattern": "^[0-9]+$"},
                "dlq.source_offset": {"type": "string", "pattern": "^[0-9]+$"},
                "dlq.attempts": {"type": "string", "pattern": "^[0-9]+$"},
                "dlq.consumer_group": {"type": "string"},
                "dlq.failed_at": {"type": "string", "format": "date-time"},
            },
            "additionalProperties": True,
        },
        "payload": {"description": "the original record value, unchanged"},
    }


def _message(model: type[EventData]) -> dict[str, Any]:
    example = example_of(model)
    event = CloudEvent.of(
        example, source=_producer(model.topic), event_id=_EXAMPLE_ID, time=_EXAMPLE_TIME
    )
    headers: dict[str, str] = {
        "ce_id": str(event.id),
        "ce_type": event.type,
        "ce_source": event.source,
        "ce_specversion": event.specversion,
        "ce_time": event.time.isoformat(),
        "ce_partitionkey": event.partition_key,
        "content-type": event.datacontenttype,
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    }
    if event.subject is not None:
        headers["ce_subject"] = event.subject
    own_headers: dict[str, Any] = {
        "type": "object",
        "properties": {"ce_type": {"type": "string", "const": model.ce_type}},
    }
    if model.topic.inbound:
        own_headers["not"] = {"required": ["ce_subject"]}
    return {
        "name": model.ce_type,
        "title": model.__name__,
        "summary": (model.__doc__ or model.ce_type).strip(),
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "allOf": [{"$ref": f"{_SCHEMAS}CloudEventHeaders"}, own_headers],
        },
        "payload": {"$ref": f"{_SCHEMAS}{model.__name__}"},
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "format": "uuid",
                    "description": f"the record key: the {model.topic.keyed_by}",
                },
                "bindingVersion": _KAFKA_BINDING,
            }
        },
        "examples": [
            {"name": "example", "headers": headers, "payload": event.data},
        ],
    }


def _channels() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for topic in TOPICS:
        models = [model for model in EVENT_TYPES.values() if model.topic == topic]
        description = (
            f"{topic.description}. {topic.partitions} partitions; records are keyed by "
            f"{topic.keyed_by}, so events with one key stay in order."
        )
        if topic.inbound:
            description += " Another trust zone: records may carry identity numbers."
        channels[channel_id(topic)] = {
            "address": topic.name,
            "title": topic.name,
            "description": description,
            "messages": {
                model.__name__: {"$ref": f"#/components/messages/{model.__name__}"}
                for model in models
            },
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "bindingVersion": _KAFKA_BINDING,
                }
            },
        }
        channels[_dead_letter_id(topic)] = {
            "address": topic.dead_letters,
            "title": topic.dead_letters,
            "description": f"records of {topic.name} that a consumer could not handle",
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
            "bindings": {
                "kafka": {
                    "topic": topic.dead_letters,
                    "partitions": topic.partitions,
                    "bindingVersion": _KAFKA_BINDING,
                }
            },
        }
    return channels


def _operations() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for service in SERVICES:
        for topic in service.sends:
            operations[f"{service.name}_sends_{channel_id(topic)}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id(topic)}"},
                "title": f"{service.name} publishes to {topic.name}",
                "summary": f"The {service.name} service {service.purpose}.",
            }
        for topic in service.receives:
            operations[f"{service.name}_receives_{channel_id(topic)}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id(topic)}"},
                "title": f"{service.name} consumes {topic.name}",
                "summary": "At least once; an inbox makes every effect happen once.",
            }
            operations[f"{service.name}_sends_{_dead_letter_id(topic)}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{_dead_letter_id(topic)}"},
                "title": f"{service.name} dead-letters records of {topic.name}",
                "summary": "What the service cannot handle, with the reason in headers.",
            }
    return operations


def _payload_schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(model, "validation") for model in EVENT_TYPES.values()],
        ref_template=_SCHEMAS + "{model}",
    )
    return dict(top["$defs"])


def asyncapi_document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document."""
    messages = {model.__name__: _message(model) for model in EVENT_TYPES.values()}
    messages["DeadLetter"] = _dead_letter_message()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Overgang events",
            "version": CONTRACT_VERSION,
            "description": "The event contract of Overgang: referrals between schools, "
            "follow-up services, NAV offices and career centres. Every event is a CloudEvents "
            "1.0 event in the Kafka binding, binary mode. Domain events carry no personal "
            "data: ids, codes, times and organisation ids. Generated by "
            "`python -m schemas.generate`; do not edit.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "the local stack (`make up`); elsewhere any Kafka, named by "
                "OVERGANG_KAFKA_BOOTSTRAP",
            }
        },
        "channels": _channels(),
        "operations": _operations(),
        "components": {
            "schemas": {"CloudEventHeaders": _headers_schema(), **_payload_schemas()},
            "messages": messages,
        },
    }
