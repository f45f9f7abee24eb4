"""The notifier's errors as problem+json, each with a machine-readable `type` and, for
invalid input, the offending `field` in `errors`. Validation errors never echo the input."""

from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from services.notifier.api.pagination import BadCursor
from services.notifier.domain.errors import NotDeadLettered, UnknownEventTypes, UnsafeTarget
from services.notifier.usecases.errors import IdempotencyKeyReused, NotFound
from services.plumbing.problems import PROBLEMS, problem

_STATUS_TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "request-too-large",
    415: "unsupported-media-type",
}

Handler = Callable[[Request, Exception], Awaitable[Response]]


def _field(location: Sequence[Any]) -> str:
    inner = [str(part) for part in location[1:]] if len(location) > 1 else list(map(str, location))
    return ".".join(inner)


def _error(field: str, location: list[Any], message: str, code: str) -> dict[str, Any]:
    return {"field": field, "location": location, "message": message, "type": code}


def _invalid(slug: str, detail: str, errors: list[dict[str, Any]]) -> JSONResponse:
    return problem(422, "Unprocessable Content", detail, type_=PROBLEMS + slug, errors=errors)


async def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    title = HTTPStatus(error.status_code).phrase
    detail = error.detail if isinstance(error.detail, str) and error.detail != title else None
    slug = _STATUS_TYPES.get(error.status_code, f"http-{error.status_code}")
    return problem(
        error.status_code, title, detail, type_=PROBLEMS + slug, headers=dict(error.headers or {})
    )


async def _validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        _error(_field(item["loc"]), list(item["loc"]), item["msg"], item["type"])
        for item in error.errors()
    ]
    return _invalid("invalid-request", "the request does not match the schema", errors)


async def _unsafe_target(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UnsafeTarget)
    return _invalid(
        "unsafe-webhook-target",
        str(error),
        [_error("url", ["body", "url"], str(error), error.code)],
    )


async def _unknown_types(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UnknownEventTypes)
    return _invalid(
        "unknown-event-type",
        str(error),
        [_error("event_types", ["body", "event_types"], str(error), "unknown_event_type")],
    )


async def _not_dead_lettered(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, NotDeadLettered)
    return problem(
        409,
        "Conflict",
        str(error),
        type_=PROBLEMS + "not-dead-lettered",
        current_status=error.status,
    )


async def _bad_cursor(request: Request, error: Exception) -> JSONResponse:
    return _invalid(
        "invalid-cursor", str(error), [_error("cursor", ["query", "cursor"], str(error), "cursor")]
    )


async def _reused(request: Request, error: Exception) -> JSONResponse:
    location: list[Any] = ["header", "Idempotency-Key"]
    return _invalid(
        "idempotency-key-reused",
        str(error),
        [_error("Idempotency-Key", location, str(error), "reused")],
    )


async def _not_found(request: Request, error: Exception) -> JSONResponse:
    return problem(404, "Not Found", str(error), type_=PROBLEMS + "not-found")


def install_notifier_problems(app: FastAPI) -> None:
    """Every error of this service as a typed problem."""
    handlers: list[tuple[type[Exception], Handler]] = [
        (HTTPException, _http),
        (RequestValidationError, _validation),
        (UnsafeTarget, _unsafe_target),
        (UnknownEventTypes, _unknown_types),
        (NotDeadLettered, _not_dead_lettered),
        (BadCursor, _bad_cursor),
        (IdempotencyKeyReused, _reused),
        (NotFound, _not_found),
    ]
    for error_type, handler in handlers:
        app.add_exception_handler(error_type, handler)
