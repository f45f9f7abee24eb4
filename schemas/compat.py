"""The compatibility check: does every event type's current schema still read every event
written under its last released schema?

That is the question for a v1 consumer because the log is kept for years and replayed, and
because models refuse unknown fields: a consumer on the new schema must read old events. It
follows that consumers are deployed before the producers that use an addition. Breaking: a
removed event type, a removed field, a retyped field (a type or format no longer accepted), a
new required field, an enum value removed, a tightened bound (maxLength, minLength, maximum,
minimum, maxItems, minItems), a new or changed pattern (a regular expression cannot be proved
to accept every old value, so any change counts), and a new or changed rule between fields.
Compatible: a new event type, a new optional field, a new enum value, a loosened bound.

Run `python -m schemas.compat` to check, `python -m schemas.compat --release` to record the
current schemas as released (refused while anything breaks). A breaking change is a new type,
`...v2`, beside the old one."""

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from schemas.event_schemas import event_schemas

RELEASED = Path(__file__).parent / "released"

_UPPER_BOUNDS = ("maxLength", "maxItems", "maximum", "exclusiveMaximum", "maxProperties")
_LOWER_BOUNDS = ("minLength", "minItems", "minimum", "exclusiveMinimum", "minProperties")
# Rules that involve several properties of one object.
_CROSS_FIELD = (
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
    "propertyNames",
)
Schema = dict[str, Any]


def breaking_changes(released: Mapping[str, Schema], current: Mapping[str, Schema]) -> list[str]:
    """What in `current` breaks a consumer of `released` (both by event type); empty if none."""
    problems: list[str] = []
    for ce_type, old in sorted(released.items()):
        new = current.get(ce_type)
        if new is None:
            problems.append(f"{ce_type}: removed event type")
        else:
            problems.extend(f"{ce_type}: {problem}" for problem in compare(old, new))
    return problems


def compare(old: Schema, new: Schema) -> list[str]:
    """What in the new schema of one event type breaks a reader of events under the old one."""
    return _Comparison(old, new).values(old, new, "(data)")


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root

    def values(self, old: Schema, new: Schema, path: str) -> list[str]:
        problems: list[str] = []
        new_variants = _variants(new, self.new_root)
        for old_variant in _variants(old, self.old_root):
            kind = _kind(old_variant)
            candidates = [v for v in new_variants if _accepts_kind(_kind(v), kind)]
            if not candidates:
                now = ", ".join(sorted({_kind(v) for v in new_variants}))
                problems.append(f"{path}: retyped: {kind} is no longer accepted (now {now})")
                continue
            outcomes = [self._same_kind(old_variant, v, kind, path) for v in candidates]
            if all(outcomes):
                problems.extend(sorted(outcomes, key=len)[0])
        return problems

    def _same_kind(self, old: Schema, new: Schema, kind: str, path: str) -> list[str]:
        problems = _enum_changes(old, new, path) + _bound_changes(old, new, path)
        if old.get("pattern") != new.get("pattern") and "pattern" in new:
            problems.append(f"{path}: tightened: pattern {new['pattern']!r} is new or changed")
        if old.get("format") != new.get("format") and "format" in new:
            was = old.get("format", "any string")
            problems.append(f"{path}: retyped: format {was} became {new['format']}")
        if not old.get("uniqueItems") and new.get("uniqueItems"):
            problems.append(f"{path}: tightened: items must now be unique")
        if kind == "array":
            problems += self.values(
                _resolve(old.get("items", {}), self.old_root),
                _resolve(new.get("items", {}), self.new_root),
                f"{path}[]",
            )
        if kind == "object":
            problems += self._fields(old, new, path)
        return problems

    def _fields(self, old: Schema, new: Schema, path: str) -> list[str]:
        problems: list[str] = []
        old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        closed = new.get("additionalProperties", True) is False
        for name in old_fields:
            if name not in new_fields and closed:
                problems.append(f"{path}.{name}: removed field")
        for name, schema in new_fields.items():
            field = f"{path}.{name}"
            if name not in old_fields:
                if name in new_required:
                    problems.append(f"{field}: new required field")
                continue
            if name in new_required and name not in old_required:
                problems.append(f"{field}: new required field (it was optional)")
            problems += self.values(old_fields[name], schema, field)
        if closed and old.get("additionalProperties", True) is not False:
            problems.append(f"{path}: tightened: unknown fields are no longer accepted")
        for rule in _CROSS_FIELD:
            if rule in new and new[rule] != old.get(rule):
                problems.append(
                    f"{path}: tightened: the {rule} rule between fields is new or changed"
                )
        return problems


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    return node


def _variants(node: Schema, root: Schema) -> list[Schema]:
    """The alternatives a value may take: the arms of a union, one per listed type."""
    node = _resolve(node, root)
    arms = node.get("anyOf", []) + node.get("oneOf", [])
    if arms and "properties" not in node and "type" not in node:
        return [variant for arm in arms for variant in _variants(arm, root)]
    kind = node.get("type")
    if isinstance(kind, list):
        return [{**node, "type": single} for single in kind]
    return [node]


def _kind(node: Schema) -> str:
    kind = node.get("type")
    if isinstance(kind, str):
        return kind
    values = node["enum"] if "enum" in node else [node["const"]] if "const" in node else None
    if values:
        kinds = {_json_kind(value) for value in values}
        return kinds.pop() if len(kinds) == 1 else "any"
    if "properties" in node:
        return "object"
    if "items" in node:
        return "array"
    return "any"


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {str: "string", float: "number", list: "array", dict: "object"}[type(value)]


def _accepts_kind(new: str, old: str) -> bool:
    return new == old or new == "any" or (new == "number" and old == "integer")


def _enum_values(node: Schema) -> list[Any] | None:
    if "enum" in node:
        return list(node["enum"])
    if "const" in node:
        return [node["const"]]
    return None


def _enum_changes(old: Schema, new: Schema, path: str) -> list[str]:
    old_values, new_values = _enum_values(old), _enum_values(new)
    if new_values is None:
        return []
    if old_values is None:
        return [f"{path}: narrowed: now limited to {new_values}"]
    removed = [value for value in old_values if value not in new_values]
    return [f"{path}: narrowed enum: {value!r} removed" for value in removed]


def _bound_changes(old: Schema, new: Schema, path: str) -> list[str]:
    problems: list[str] = []
    for bound in _UPPER_BOUNDS:
        if bound in new and (bound not in old or new[bound] < old[bound]):
            problems.append(f"{path}: tightened: {bound} {old.get(bound, 'none')} → {new[bound]}")
    for bound in _LOWER_BOUNDS:
        if bound in new and (bound not in old or new[bound] > old[bound]):
            problems.append(f"{path}: tightened: {bound} {old.get(bound, 'none')} → {new[bound]}")
    return problems


def released_schemas(directory: Path = RELEASED) -> dict[str, Schema]:
    """The last released schema of every event type, by type."""
    return {
        path.name.removesuffix(".json"): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }


def release(directory: Path = RELEASED) -> list[str]:
    """Record the current schemas as released, unless something breaks; returns what breaks."""
    current = event_schemas()
    problems = breaking_changes(released_schemas(directory), current)
    if problems:
        return problems
    directory.mkdir(parents=True, exist_ok=True)
    for ce_type, schema in current.items():
        text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        (directory / f"{ce_type}.json").write_text(text, encoding="utf-8")
    return []


def main(argv: list[str] | None = None) -> int:
    """Check (or release) the contract; exit 1 naming every breaking change."""
    parser = argparse.ArgumentParser(prog="python -m schemas.compat", description=__doc__)
    parser.add_argument(
        "--release", action="store_true", help="record the current schemas as released"
    )
    parser.add_argument(
        "--released", type=Path, default=RELEASED, help="where the released schemas are"
    )
    arguments = parser.parse_args(argv)
    if arguments.release:
        problems = release(arguments.released)
    else:
        problems = breaking_changes(released_schemas(arguments.released), event_schemas())
    for problem in problems:
        print(f"breaking: {problem}", file=sys.stderr)
    if problems:
        return 1
    print("released" if arguments.release else "compatible with the released schemas")
    return 0


if __name__ == "__main__":
    sys.exit(main())
