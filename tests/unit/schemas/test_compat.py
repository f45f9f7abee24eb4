"""The compatibility check: every change that breaks a consumer of a released schema is
reported, and compatible changes are not."""

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from schemas.compat import breaking_changes, compare, main, release, released_schemas
from schemas.event_schemas import event_schemas
from schemas.registry import EVENT_TYPES

Schema = dict[str, Any]

RELEASED: Schema = {
    "$defs": {
        "Reason": {"enum": ["duplicate", "outside_mandate"], "type": "string"},
        "Actor": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"actor_id": {"type": "string", "format": "uuid"}},
            "required": ["actor_id"],
        },
    },
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "referral_id": {"type": "string", "format": "uuid"},
        "reason": {"$ref": "#/$defs/Reason"},
        "county_number": {"type": "string", "pattern": "^[0-9]{2}$"},
        "name": {"type": "string", "maxLength": 200},
        "attempt": {"type": "integer", "minimum": 1, "maximum": 100},
        "actors": {"type": "array", "items": {"$ref": "#/$defs/Actor"}, "maxItems": 10},
        "consent_id": {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]},
    },
    "required": ["referral_id", "reason", "county_number", "name", "attempt", "actors"],
}


def _changed(change: Callable[[Schema], object]) -> Schema:
    schema = copy.deepcopy(RELEASED)
    change(schema)
    return schema


def _props(schema: Schema) -> Schema:
    properties: Schema = schema["properties"]
    return properties


BREAKING: dict[str, tuple[Callable[[Schema], object], str]] = {
    "a removed field": (lambda s: _props(s).pop("name"), "name: removed field"),
    "a retyped field": (
        lambda s: _props(s).update(attempt={"type": "string"}),
        "attempt: retyped",
    ),
    "a changed format": (
        lambda s: _props(s)["referral_id"].update(format="date-time"),
        "referral_id: retyped: format uuid became date-time",
    ),
    "a new required field": (
        lambda s: (
            _props(s).update(purpose={"type": "string", "enum": ["career_guidance"]}),
            s["required"].append("purpose"),
        ),
        "purpose: new required field",
    ),
    "an optional field made required": (
        lambda s: s["required"].append("consent_id"),
        "consent_id: new required field (it was optional)",
    ),
    "a field no longer nullable": (
        lambda s: _props(s).update(consent_id={"type": "string", "format": "uuid"}),
        "consent_id: retyped: null is no longer accepted",
    ),
    "an enum value removed": (
        lambda s: s["$defs"]["Reason"].update(enum=["outside_mandate"]),
        "reason: narrowed enum: 'duplicate' removed",
    ),
    "a smaller maxLength": (
        lambda s: _props(s)["name"].update(maxLength=100),
        "name: tightened: maxLength 200 → 100",
    ),
    "a smaller maximum": (
        lambda s: _props(s)["attempt"].update(maximum=10),
        "attempt: tightened: maximum 100 → 10",
    ),
    "a larger minimum": (
        lambda s: _props(s)["attempt"].update(minimum=2),
        "attempt: tightened: minimum 1 → 2",
    ),
    "a changed pattern": (
        lambda s: _props(s)["county_number"].update(pattern="^[0-5][0-9]$"),
        "county_number: tightened: pattern",
    ),
    "a field removed from a nested model in a list": (
        lambda s: (
            s["$defs"]["Actor"]["properties"].pop("actor_id"),
            s["$defs"]["Actor"]["required"].clear(),
        ),
        "actors[].actor_id: removed field",
    ),
    "a smaller maxItems": (
        lambda s: _props(s)["actors"].update(maxItems=5),
        "actors: tightened: maxItems 10 → 5",
    ),
    "a new rule between fields": (
        lambda s: s.update(anyOf=[{"required": ["consent_id"]}]),
        "tightened: the anyOf rule between fields is new or changed",
    ),
}

COMPATIBLE: dict[str, Callable[[Schema], object]] = {
    "an optional field added": lambda s: _props(s).update(
        assignee_id={"type": "string", "format": "uuid"}
    ),
    "an enum value added": lambda s: s["$defs"]["Reason"]["enum"].append("no_capacity"),
    "a larger maxLength": lambda s: _props(s)["name"].update(maxLength=300),
    "a bound removed": lambda s: _props(s)["attempt"].pop("maximum"),
    "a pattern removed": lambda s: _props(s)["county_number"].pop("pattern"),
    "an integer widened to a number": lambda s: _props(s)["attempt"].update(type="number"),
    "a field made optional": lambda s: s["required"].remove("name"),
    "a field made nullable": lambda s: _props(s).update(
        name={"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}]}
    ),
    "descriptions and examples changed": lambda s: s.update(
        description="new words", examples=[{"referral_id": "x"}]
    ),
}


@pytest.mark.parametrize("name", BREAKING)
def test_a_breaking_change_is_reported(name: str) -> None:
    change, expected = BREAKING[name]

    problems = compare(RELEASED, _changed(change))

    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("name", COMPATIBLE)
def test_a_compatible_change_is_not_reported(name: str) -> None:
    assert compare(RELEASED, _changed(COMPATIBLE[name])) == []


def test_an_unchanged_schema_is_compatible() -> None:
    assert compare(RELEASED, copy.deepcopy(RELEASED)) == []


def test_a_removed_event_type_breaks_consumers() -> None:
    released = {"no.overgang.referral.accepted.v1": RELEASED, "no.overgang.x.y.v1": RELEASED}

    assert breaking_changes(released, {"no.overgang.x.y.v1": RELEASED}) == [
        "no.overgang.referral.accepted.v1: removed event type"
    ]


def test_a_new_event_type_breaks_nobody() -> None:
    released = {"no.overgang.x.y.v1": RELEASED}
    current = {"no.overgang.x.y.v1": RELEASED, "no.overgang.x.z.v1": RELEASED}

    assert breaking_changes(released, current) == []


def test_the_current_schemas_are_compatible_with_the_released_ones() -> None:
    assert breaking_changes(released_schemas(), event_schemas()) == []


def test_every_event_type_has_been_released() -> None:
    assert set(released_schemas()) == set(EVENT_TYPES)


def test_a_real_event_type_that_lost_a_reason_is_reported() -> None:
    released = released_schemas()["no.overgang.referral.rejected.v1"]
    released = copy.deepcopy(released)
    released["$defs"]["RejectionReason"]["enum"].append("moon_phase")

    assert compare(released, event_schemas()["no.overgang.referral.rejected.v1"]) == [
        "(data).reason: narrowed enum: 'moon_phase' removed"
    ]


def _release_into(directory: Path, change: Callable[[Schema], object]) -> None:
    for ce_type, schema in event_schemas().items():
        if ce_type == "no.overgang.referral.accepted.v1":
            change(schema)
        (directory / f"{ce_type}.json").write_text(json.dumps(schema))


def test_the_command_exits_1_naming_what_breaks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _release_into(tmp_path, lambda s: s["properties"].update(note={"type": "string"}))

    assert main(["--released", str(tmp_path)]) == 1
    assert "no.overgang.referral.accepted.v1: (data).note: removed field" in (
        capsys.readouterr().err
    )


def test_the_command_passes_when_nothing_breaks(tmp_path: Path) -> None:
    _release_into(tmp_path, lambda s: None)

    assert main(["--released", str(tmp_path)]) == 0


def test_a_release_is_refused_while_something_breaks(tmp_path: Path) -> None:
    _release_into(tmp_path, lambda s: s["properties"].update(note={"type": "string"}))
    before = (tmp_path / "no.overgang.referral.accepted.v1.json").read_text()

    assert release(tmp_path) != []
    assert (tmp_path / "no.overgang.referral.accepted.v1.json").read_text() == before


def test_a_release_records_every_current_schema(tmp_path: Path) -> None:
    assert release(tmp_path) == []
    assert released_schemas(tmp_path) == event_schemas()
