"""The committed JSON Schemas and AsyncAPI document are what the code generates, and say what
the contract is."""

import json
from pathlib import Path
from typing import Any

from schemas.asyncapi import SERVICES, asyncapi_document, channel_id
from schemas.event_schemas import event_schemas, schema_id
from schemas.generate import SCHEMAS_DIR, artefacts, stale_files, write
from schemas.registry import EVENT_TYPES
from schemas.topics import TOPICS


def test_the_committed_artefacts_are_what_the_code_generates() -> None:
    assert stale_files() == [], "run: uv run python -m schemas.generate"


def test_a_stale_missing_or_left_over_file_is_named(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "json" / "no.overgang.referral.accepted.v1.json").write_text("{}\n")
    (tmp_path / "asyncapi.json").unlink()
    (tmp_path / "json" / "no.overgang.referral.teleported.v1.json").write_text("{}\n")

    assert sorted(stale_files(tmp_path)) == [
        "asyncapi.json",
        "json/no.overgang.referral.accepted.v1.json",
        "json/no.overgang.referral.teleported.v1.json",
    ]


def test_writing_brings_every_file_up_to_date(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "json" / "no.overgang.referral.teleported.v1.json").write_text("{}\n")

    write(tmp_path)

    assert stale_files(tmp_path) == []
    assert len(list((tmp_path / "json").glob("*.json"))) == len(EVENT_TYPES)


def test_every_event_type_has_a_schema_file_with_id_title_and_description() -> None:
    for ce_type, model in EVENT_TYPES.items():
        schema = json.loads((SCHEMAS_DIR / "json" / f"{ce_type}.json").read_text())

        assert schema["$id"] == schema_id(ce_type)
        assert schema["title"] == model.__name__
        assert schema["description"] == model.__doc__
        assert schema["additionalProperties"] is False


def test_every_field_is_described() -> None:
    for ce_type, schema in event_schemas().items():
        for name, field in schema["properties"].items():
            assert field.get("description"), f"{ce_type}: {name}"


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(artefacts()["asyncapi.json"])
    return document


def test_every_topic_and_its_dead_letters_are_channels_with_partitions() -> None:
    channels = _document()["channels"]

    for topic in TOPICS:
        channel = channels[channel_id(topic)]
        dead_letters = channels[f"{channel_id(topic)}_dead_letters"]
        assert channel["address"] == topic.name
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions
        assert str(topic.keyed_by) in channel["description"]
        assert dead_letters["address"] == topic.dead_letters


def test_every_event_type_is_a_message_on_its_topic_with_cloudevents_headers() -> None:
    document = _document()

    for ce_type, model in EVENT_TYPES.items():
        message = document["components"]["messages"][model.__name__]
        channel = document["channels"][channel_id(model.topic)]
        assert message["name"] == ce_type
        assert model.__name__ in channel["messages"]
        assert message["payload"] == {"$ref": f"#/components/schemas/{model.__name__}"}
        assert message["headers"]["allOf"][1]["properties"]["ce_type"]["const"] == ce_type

    headers = document["components"]["schemas"]["CloudEventHeaders"]["properties"]
    assert {"ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "ce_subject"} <= set(
        headers
    )
    assert {"content-type", "traceparent"} <= set(headers)


def _operations(action: str, service: str) -> set[str]:
    return {
        operation["channel"]["$ref"].removeprefix("#/channels/")
        for name, operation in _document()["operations"].items()
        if operation["action"] == action and name.startswith(f"{service}_")
    }


def test_the_operations_say_who_sends_and_receives_what() -> None:
    assert _operations("send", "referral") >= {"person", "directory"}
    assert _operations("receive", "referral") == {"inbound_school", "deadline"}
    assert _operations("receive", "notifier") == {"person", "directory", "deadline"}
    assert "notification" in _operations("send", "notifier")
    assert _operations("receive", "audit") == {
        channel_id(topic) for topic in TOPICS if not topic.inbound
    }
    assert "deadline" in _operations("send", "audit")


def test_every_consumer_can_dead_letter_what_it_receives() -> None:
    for service in SERVICES:
        sends = _operations("send", service.name)
        for topic in service.receives:
            assert f"{channel_id(topic)}_dead_letters" in sends


def test_the_document_is_generated_deterministically() -> None:
    assert asyncapi_document() == asyncapi_document()
    assert artefacts() == artefacts()
