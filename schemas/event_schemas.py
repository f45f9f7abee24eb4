"""The JSON Schema of each event type's data, as published in `schemas/json/`."""

from typing import Any

from schemas.envelope import EventData
from schemas.examples import example_of
from schemas.registry import EVENT_TYPES

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_id(ce_type: str) -> str:
    """The `$id` of an event type's schema; a CloudEvent may name it as its `dataschema`."""
    return f"urn:overgang:schema:{ce_type}"


def event_schema(model: type[EventData]) -> dict[str, Any]:
    """The schema of one event type's data, with its `$id`, title, description and example."""
    schema = model.model_json_schema(mode="validation")
    schema.pop("title", None)
    description = schema.pop("description", None) or model.ce_type
    return {
        "$schema": DIALECT,
        "$id": schema_id(model.ce_type),
        "title": model.__name__,
        "description": description,
        **schema,
        "examples": [example_of(model).model_dump(mode="json")],
    }


def event_schemas() -> dict[str, dict[str, Any]]:
    """Every event type's schema, by type."""
    return {ce_type: event_schema(model) for ce_type, model in EVENT_TYPES.items()}
