"""The served OpenAPI says what errors really look like: every operation may answer a 4xx or
5xx as RFC 9457 problem+json, and validation errors are problems too (not FastAPI's
`HTTPValidationError`, which no handler of ours sends)."""

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from services.plumbing.problems import PROBLEM_JSON

_REF = "#/components/schemas/"
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


class ProblemDetails(BaseModel):
    """An error, as RFC 9457 problem details; a problem type may add members of its own."""

    model_config = ConfigDict(extra="allow", title="ProblemDetails")

    type: str = Field(description="the problem type: a URI, or about:blank")
    title: str = Field(description="short summary of the problem type")
    status: int = Field(ge=400, le=599, description="the HTTP status code")
    detail: str | None = Field(None, description="what went wrong this time")
    instance: str | None = Field(None, description="the occurrence, as a URI")


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": _REF + "ProblemDetails"}}}


_RANGES = {
    "4XX": "a problem with the request (RFC 9457 problem details)",
    "5XX": "the service failed or is unavailable (RFC 9457 problem details)",
}


def _is_error(code: str) -> bool:
    return code == "default" or code[:1] in ("4", "5")


def _declare_problems(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for code, response in responses.items():
        if not _is_error(code) or "$ref" in response:
            continue
        content: dict[str, Any] = response.setdefault("content", {})
        schema = content.get("application/json", {}).get("schema", {})
        if schema.get("$ref") == _REF + "HTTPValidationError":
            del content["application/json"]
        if not content or (PROBLEM_JSON in content and not content[PROBLEM_JSON].get("schema")):
            content[PROBLEM_JSON] = _problem_content()[PROBLEM_JSON]
    for code, description in _RANGES.items():
        responses.setdefault(code, {"description": description, "content": _problem_content()})


def _mentions(node: Any, ref: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == ref or any(_mentions(value, ref) for value in node.values())
    if isinstance(node, list):
        return any(_mentions(value, ref) for value in node)
    return False


def _declare(schema: dict[str, Any]) -> None:
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method in _METHODS:
                _declare_problems(operation)
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["ProblemDetails"] = ProblemDetails.model_json_schema(ref_template=_REF + "{model}")
    # FastAPI's validation error models go when nothing refers to them any longer.
    for name in _FASTAPI_VALIDATION:
        if name in schemas and not _mentions(schema, _REF + name):
            del schemas[name]


def declare_problem_responses(app: FastAPI) -> None:
    """Make `app.openapi()` declare problem+json for every operation's errors. Lazy, like
    FastAPI's own: routes included after this call are covered."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = build()  # FastAPI's own keeps it, built once
        if fresh:
            _declare(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
