"""The generated schemas checked by a tool we did not write: `jsonschema` validates them
against their metaschema, and the examples (and what the models refuse) against them."""

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

from schemas.examples import EXAMPLES, example_of
from schemas.generate import SCHEMAS_DIR
from schemas.inbound import PupilLeftSchoolV1
from schemas.person import ConsentGivenV1
from schemas.referrals import ReferralSubmittedV1
from schemas.registry import EVENT_TYPES

FORMATS = FormatChecker()
SCHEMA_FILES = sorted((SCHEMAS_DIR / "json").glob("*.json")) + sorted(
    (SCHEMAS_DIR / "released").glob("*.json")
)


def _schema(ce_type: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS_DIR / "json" / f"{ce_type}.json").read_text())
    return schema


def _validate(instance: object, ce_type: str) -> None:
    Draft202012Validator(_schema(ce_type), format_checker=FORMATS).validate(instance)


def test_there_is_a_file_for_every_event_type_to_check() -> None:
    assert len(SCHEMA_FILES) == 2 * len(EVENT_TYPES)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_a_schema_file_is_valid_against_its_metaschema(path: Path) -> None:
    schema = json.loads(path.read_text())

    assert validators.validator_for(schema) is Draft202012Validator
    Draft202012Validator.check_schema(schema)


def test_the_format_checker_checks_times_and_uuids() -> None:
    with pytest.raises(ValidationError):
        Draft202012Validator({"format": "date-time"}, format_checker=FORMATS).validate("monday")
    with pytest.raises(ValidationError):
        Draft202012Validator({"format": "uuid"}, format_checker=FORMATS).validate("Kari")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: type(example).__name__)
def test_the_example_of_an_event_type_is_valid_against_its_schema(example: Any) -> None:
    _validate(example.model_dump(mode="json"), example.ce_type)


@pytest.mark.parametrize(
    ("model", "change"),
    [
        (ReferralSubmittedV1, {"consent_id": None}),
        (ReferralSubmittedV1, {"note": "Kari has moved"}),
        (ReferralSubmittedV1, {"occurred_at": "yesterday"}),
        (ConsentGivenV1, {"recipient_organisation_ids": [], "recipient_sectors": []}),
        (PupilLeftSchoolV1, {"school_organisation_id": "12345678-9abc-4def-8123-456789abcdef"}),
        (PupilLeftSchoolV1, {"school_organisation_number": None}),
        (PupilLeftSchoolV1, {"national_identity_number": "1545085006"}),
    ],
)
def test_the_schema_refuses_what_the_model_refuses(model: Any, change: dict[str, Any]) -> None:
    data = example_of(model).model_dump(mode="json") | change

    with pytest.raises(pydantic.ValidationError):
        model.model_validate(data)
    with pytest.raises(ValidationError):
        _validate(data, model.ce_type)


def test_the_asyncapi_examples_are_valid_against_the_documents_own_schemas() -> None:
    document = json.loads((SCHEMAS_DIR / "asyncapi.json").read_text())
    messages = document["components"]["messages"]
    checked = 0

    for name, message in messages.items():
        for example in message.get("examples", []):
            for part in ("headers", "payload"):
                # The document as the root, so that its #/components/... references resolve.
                schema = document | {"$ref": f"#/components/messages/{name}/{part}"}
                Draft202012Validator(schema, format_checker=FORMATS).validate(example[part])
                checked += 1

    assert checked == 2 * len(EVENT_TYPES)
