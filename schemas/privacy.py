"""The guard that keeps personal data out of domain events.

It walks the JSON Schema of a model (through nested models, lists and unions) and reports
every value that could carry free text, a name or an identity number: a string that is not an
enum, a UUID, a date or time, or held to a pattern that refuses every probe below; a number
without an upper bound small enough; a list without a length bound; an object that takes
properties of any name; a value of any type."""

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

# Organisations are not persons: their official name is public (in the Central Coordinating
# Register) and is what users read in a worklist. It is the one free text allowed in events.
ALLOWED_FREE_TEXT: frozenset[str] = frozenset(
    {"OrganisationRegisteredV1.name", "OrganisationUpdatedV1.name"}
)
# Numbers that grow beyond seven digits without being anyone's: the audit log's sequence
# numbers, counted by the audit service itself and never typed by a person.
ALLOWED_LARGE_NUMBERS: frozenset[str] = frozenset({"AuditCheckpointV1.sequence"})
# What a pattern must refuse: names, free text, an identity number, a phone number, an e-mail.
PROBES: tuple[str, ...] = (
    "kari",
    "Nordmann",
    "Kari Nordmann",
    "Kari flyttet til mormor i Storgata 1, 0155 Oslo",
    "15450850060",
    "154508 50060",
    "91234567",
    "kari.nordmann@example.no",
)
SAFE_FORMATS = frozenset({"uuid", "date", "date-time"})
# Seven digits at most: eight are a phone number, eleven an identity number.
LARGEST_SAFE_NUMBER = 9_999_999


@dataclass(frozen=True)
class Finding:
    """A value of a model that could carry personal data, and why."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def personal_data_risks(model: type[BaseModel]) -> list[Finding]:
    """Every value of the model that could carry personal data, less the allow-listed ones."""
    schema = model.model_json_schema(mode="validation")
    findings: list[Finding] = []
    _walk(schema, schema, model.__name__, findings)
    return findings


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    return node


def _walk(node: dict[str, Any], root: dict[str, Any], path: str, out: list[Finding]) -> None:
    node = _resolve(node, root)
    if "enum" in node or "const" in node:
        return
    if "properties" in node or node.get("type") == "object":
        if node.get("additionalProperties", True) is not False:
            out.append(Finding(path, "takes properties of any name"))
        for name, child in node.get("properties", {}).items():
            _walk(child, root, f"{path}.{name}", out)
        return  # object-level anyOf/oneOf only say which of these properties are required
    variants = node.get("anyOf", []) + node.get("oneOf", []) + node.get("allOf", [])
    if variants:
        for variant in variants:
            _walk(variant, root, path, out)
        return
    kind = node.get("type")
    if isinstance(kind, list):
        for single in kind:
            _walk({**node, "type": single}, root, path, out)
    elif kind == "array":
        if "maxItems" not in node:
            out.append(Finding(path, "a list without maxItems"))
        _walk(node.get("items", {}), root, f"{path}[]", out)
    elif kind == "string":
        _check_string(node, path, out)
    elif kind in ("integer", "number"):
        largest = node.get("maximum", node.get("exclusiveMaximum"))
        smallest = node.get("minimum", node.get("exclusiveMinimum"))
        if path in ALLOWED_LARGE_NUMBERS and largest is not None and smallest is not None:
            return
        if (
            largest is None
            or smallest is None
            or max(abs(largest), abs(smallest)) > LARGEST_SAFE_NUMBER
        ):
            out.append(Finding(path, f"a number not bounded to ±{LARGEST_SAFE_NUMBER}"))
    elif kind not in ("boolean", "null"):
        out.append(Finding(path, "a value of any type"))


def _check_string(node: dict[str, Any], path: str, out: list[Finding]) -> None:
    if node.get("format") in SAFE_FORMATS:
        return
    if path in ALLOWED_FREE_TEXT:
        if "maxLength" not in node:
            out.append(Finding(path, "allowed free text, but without maxLength"))
        return
    pattern = node.get("pattern")
    if pattern is None:
        out.append(Finding(path, "free text: a string without enum, format or pattern"))
        return
    # JSON Schema patterns are not anchored: a probe found anywhere passes.
    admitted = [probe for probe in PROBES if re.search(pattern, probe)]
    if admitted:
        out.append(Finding(path, f"its pattern {pattern!r} admits {admitted[0]!r}"))
