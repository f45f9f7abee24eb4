"""The served OpenAPI says what POST /v1/events takes and answers, and what the CloudEvents
SDK sends in structured mode is valid by the schema it declares."""

import datetime as dt
import json
import uuid
from typing import Any

from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent
from jsonschema import Draft202012Validator

from services.referral.app import ReferralSettings, create_app

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}


def _document() -> dict[str, Any]:
    # Building the app connects to nothing.
    settings = ReferralSettings(
        kafka_bootstrap="127.0.0.1:1", database_url="postgresql://nobody@127.0.0.1:1/none"
    )
    document: dict[str, Any] = create_app(settings).openapi()
    return document


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_the_route_declares_its_modes_and_answers() -> None:
    document = _document()
    operation = document["paths"]["/v1/events"]["post"]

    assert set(operation["requestBody"]["content"]) == {
        "application/json",
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
    }
    assert {p["name"] for p in operation["parameters"]} >= {"ce-id", "ce-source", "ce-type"}
    assert "202" in operation["responses"]
    for status in ("400", "401", "403", "409", "413", "415", "503"):
        assert operation["responses"][status]["content"] == PROBLEM, status
    # Every reference in the document resolves.
    components = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.removeprefix("#/components/schemas/") in components, ref


def test_what_the_sdk_sends_in_structured_mode_is_valid_by_the_declared_schema() -> None:
    document = _document()
    event = SdkCloudEvent(
        {
            "type": "no.overgang.inbound.pupil_left_school.v1",
            "source": "/schools/oslo-vgs/sis",
            "id": str(uuid.uuid4()),
            "time": dt.datetime.now(dt.UTC),
            "datacontenttype": "application/json",
        },
        {
            "school_organisation_number": "987654325",
            "national_identity_number": "01010850049",
            "birth_date": "2008-01-01",
            "left_at": "2026-12-01",
            "reason": "dropped_out",
        },
    )
    body = json.loads(to_structured(event, JSONFormat()).body)
    content = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]

    for media_type, instance in (
        ("application/cloudevents+json", body),
        ("application/cloudevents-batch+json", [body]),
        ("application/json", body["data"]),
    ):
        schema = {**content[media_type]["schema"], "components": document["components"]}
        errors = list(Draft202012Validator(schema).iter_errors(instance))
        assert not errors, (media_type, [error.message for error in errors])
    # And the schema is not a blank cheque: an unknown type is outside it.
    schema = {**content["application/cloudevents+json"]["schema"], **document}
    assert not Draft202012Validator(schema).is_valid({**body, "type": "com.example.other"})
