"""The audit service's errors as problem+json, each with a machine-readable `type` and, for
invalid input, the offending `field` in `errors`."""

from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from services.audit.api.pagination import BadCursor
from services.audit.domain.errors import InvalidRange, NoTimeline, NotInDirectory
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


def problem_type(slug: str) -> str:
    return PROBLEMS + slug


def _field(location: Sequence[Any]) -> str:
    inner = [str(part) for part in location[1:]] if len(location) > 1 else list(map(str, location))
    return ".".join(inner)


def _error(field: str, location: list[Any], message: str, code: str) -> dict[str, Any]:
    return {"field": field, "location": location, "message": message, "type": code}


def _invalid(slug: str, detail: str, errors: list[dict[str, Any]]) -> JSONResponse:
    return problem(422, "Unprocessable Content", detail, type_=problem_type(slug), errors=errors)


async def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    title = HTTPStatus(error.status_code).phrase
    detail = error.detail if isinstance(error.detail, str) and error.detail != title else None
    slug = _STATUS_TYPES.get(error.status_code, f"http-{error.status_code}")
    return problem(
        error.status_code,
        title,
        detail,
        type_=problem_type(slug),
        headers=dict(error.headers or {}),
    )


async def _validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # loc, msg and type only: never echo what was sent.
    errors = [
        _error(_field(item["loc"]), list(item["loc"]), item["msg"], item["type"])
        for item in error.errors()
    ]
    return _invalid("invalid-request", "the request does not match the schema", errors)


async def _bad_cursor(request: Request, error: Exception) -> JSONResponse:
    location: list[Any] = ["query", "cursor"]
    return _invalid(
        "invalid-cursor", str(error), [_error("cursor", location, str(error), "cursor")]
    )


async def _invalid_range(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidRange)
    location: list[Any] = ["query", error.field]
    return _invalid(
        "invalid-range", str(error), [_error(error.field, location, str(error), "range")]
    )


def _simple(status: int, slug: str) -> Handler:
    async def handle(request: Request, error: Exception) -> JSONResponse:
        return problem(status, HTTPStatus(status).phrase, str(error), type_=problem_type(slug))

    return handle


def install_audit_problems(app: FastAPI) -> None:
    """Every error of this service as a typed problem."""
    handlers: list[tuple[type[Exception], Handler]] = [
        (HTTPException, _http),
        (RequestValidationError, _validation),
        (BadCursor, _bad_cursor),
        (InvalidRange, _invalid_range),
        (NotInDirectory, _simple(403, "not-in-directory")),
        (NoTimeline, _simple(404, "no-timeline")),
    ]
    for error_type, handler in handlers:
        app.add_exception_handler(error_type, handler)
