"""Errors as RFC 9457 problem details (application/problem+json), made in one place."""

import logging
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from services.plumbing.http_binding import (
    MEDIA_TYPES,
    InvalidCloudEvents,
    TooManyEvents,
    UnsupportedEventMediaType,
)
from services.plumbing.idempotency import IdempotencyKeyReused
from services.plumbing.kafka import KafkaUnavailable
from services.plumbing.pagination import BadCursor

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# Where typed problems live: a problem's `type` is this plus its slug.
PROBLEMS = "https://overgang.no/problems/"


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """A problem+json response; `extensions` become extra members (RFC 9457, section 3.2)."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_STATUS_TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "request-too-large",
    415: "unsupported-media-type",
    428: "precondition-required",
}

Handler = Callable[[Request, Exception], Awaitable[Response]]


def problem_type(slug: str) -> str:
    """The URI of a typed problem."""
    return PROBLEMS + slug


def title(status: int) -> str:
    # RFC 9110's name for 422 (Python 3.11 still says "Unprocessable Entity").
    return "Unprocessable Content" if status == 422 else HTTPStatus(status).phrase


def field_error(field: str, location: Sequence[Any], message: str, code: str) -> dict[str, Any]:
    """One entry of a problem's `errors`: which field, where it was, what was wrong."""
    return {"field": field, "location": list(location), "message": message, "type": code}


def invalid(
    slug: str, detail: str, errors: list[dict[str, Any]], *, status: int = 422
) -> JSONResponse:
    """A problem with the input, naming each offending field."""
    return problem(status, title(status), detail, type_=problem_type(slug), errors=errors)


def _field(location: Sequence[Any]) -> str:
    """`body.parties.0` → `parties.0`; a query or header parameter by its name."""
    inner = [str(part) for part in location[1:]] if len(location) > 1 else list(map(str, location))
    return ".".join(inner)


def simple(status: int, slug: str) -> Handler:
    """A handler answering an error with a typed problem whose detail is the error's text."""

    async def handle(request: Request, error: Exception) -> JSONResponse:
        return problem(status, title(status), str(error), type_=problem_type(slug))

    return handle


def field_problem(slug: str, location: Sequence[str], code: str, *, status: int = 422) -> Handler:
    """A handler answering an error about one input field, e.g. `["body", "url"]`."""

    async def handle(request: Request, error: Exception) -> JSONResponse:
        message = str(error)
        errors = [field_error(_field(location), location, message, code)]
        return invalid(slug, message, errors, status=status)

    return handle


async def _http_exception(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    title_ = title(error.status_code)
    detail = error.detail if isinstance(error.detail, str) and error.detail != title_ else None
    slug = _STATUS_TYPES.get(error.status_code, f"http-{error.status_code}")
    # Keep the headers Starlette set, e.g. Allow on a 405.
    return problem(
        error.status_code,
        title_,
        detail,
        type_=problem_type(slug),
        headers=dict(error.headers or {}),
    )


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # loc, msg and type only: pydantic's `input` would echo what was sent (identity numbers).
    errors = [
        field_error(_field(item["loc"]), item["loc"], item["msg"], item["type"])
        for item in error.errors()
    ]
    return invalid("invalid-request", "the request does not match the schema", errors)


async def _unstorable_text(request: Request, error: Exception) -> JSONResponse:
    # Text PostgreSQL cannot store (a NUL character) is bad input, not a server error; the
    # transaction it was in rolled back, so nothing was written.
    return problem(
        422,
        "Unprocessable Content",
        "a text field holds a character that cannot be stored (e.g. NUL)",
        type_=problem_type("unstorable-text"),
    )


# The database is out of reach for now (restarting, failing over, refusing connections): the
# request may not have been carried out, and may be sent again.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    # Refused, reset, aborted: the requests' only network peer is their database.
    ConnectionError,
)
RETRY_AFTER_S = 1
# Kafka back after a broker restart or a leader election takes seconds, not one.
KAFKA_RETRY_AFTER_S = 5


async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    return problem(
        503,
        "Service Unavailable",
        "the database could not be reached, so the request may not have been carried out: "
        "send it again (with the same Idempotency-Key, if it had one, so that it is carried "
        "out once)",
        type_=problem_type("database-unavailable"),
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def _interface_error(request: Request, error: Exception) -> JSONResponse:
    """asyncpg's InterfaceError is a connection lost under a request (the database restarted)
    or a misuse of the driver: only the first is the database's being away."""
    if "connection is closed" in str(error) or "connection was closed" in str(error):
        return await _database_unavailable(request, error)
    log.error("database driver misused", exc_info=error)
    return await _unexpected(request, error)


async def _internal_client_error(request: Request, error: Exception) -> JSONResponse:
    """asyncpg's InternalClientError is the driver losing track of a connection that the
    database broke in the middle of an operation (seen when PostgreSQL shut down while a
    connection went back to the pool): the database's being away. Logged in full, in case it
    is ever anything else."""
    log.warning("database connection broken in the middle of an operation", exc_info=error)
    return await _database_unavailable(request, error)


async def _invalid_cloudevents(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidCloudEvents)
    errors = [
        {"index": p.index, **field_error(p.field, p.location, p.message, p.code)}
        for p in error.problems
    ]
    return invalid("invalid-cloudevent", str(error), errors, status=400)


async def _unsupported_event_media_type(request: Request, error: Exception) -> JSONResponse:
    return problem(
        415,
        "Unsupported Media Type",
        str(error),
        type_=problem_type("unsupported-media-type"),
        # RFC 9110, 15.5.16: Accept says which media types would have been taken.
        headers={"Accept": ", ".join(MEDIA_TYPES)},
        accepted_media_types=list(MEDIA_TYPES),
    )


async def _too_many_events(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TooManyEvents)
    return problem(
        413,
        "Content Too Large",
        str(error),
        type_=problem_type("too-many-events"),
        max_events=error.limit,
    )


async def _kafka_unavailable(request: Request, error: Exception) -> JSONResponse:
    return problem(
        503,
        "Service Unavailable",
        f"{error}, so the events are not received: send them again (a resend of an event "
        "that did reach Kafka is harmless: events are received once by their id and source)",
        type_=problem_type("kafka-unavailable"),
        headers={"Retry-After": str(KAFKA_RETRY_AFTER_S)},
    )


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # The cause goes to the log, never to the caller.
    return problem(500, "Internal Server Error", "an unexpected error; it has been logged")


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error, Starlette's own included, through problem+json; a service adds its
    own errors with `add_problem_handlers`."""
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(
        BadCursor, field_problem("invalid-cursor", ["query", "cursor"], "cursor")
    )
    app.add_exception_handler(
        IdempotencyKeyReused,
        field_problem("idempotency-key-reused", ["header", "Idempotency-Key"], "reused"),
    )
    for unstorable in (
        asyncpg.CharacterNotInRepertoireError,
        asyncpg.UntranslatableCharacterError,
    ):
        app.add_exception_handler(unstorable, _unstorable_text)
    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(asyncpg.InterfaceError, _interface_error)
    app.add_exception_handler(asyncpg.InternalClientError, _internal_client_error)
    app.add_exception_handler(InvalidCloudEvents, _invalid_cloudevents)
    app.add_exception_handler(UnsupportedEventMediaType, _unsupported_event_media_type)
    app.add_exception_handler(TooManyEvents, _too_many_events)
    app.add_exception_handler(KafkaUnavailable, _kafka_unavailable)
    app.add_exception_handler(Exception, _unexpected)


def add_problem_handlers(app: FastAPI, handlers: Sequence[tuple[type[Exception], Handler]]) -> None:
    """A service's own errors, each with its handler (e.g. `simple` or `field_problem`)."""
    for error_type, handler in handlers:
        app.add_exception_handler(error_type, handler)
