"""Errors as RFC 9457 problem details (application/problem+json), made in one place."""

from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

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


async def _http_exception(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    title = HTTPStatus(error.status_code).phrase
    detail = error.detail if isinstance(error.detail, str) and error.detail != title else None
    # Keep the headers Starlette set, e.g. Allow on a 405.
    return problem(error.status_code, title, detail, headers=dict(error.headers or {}))


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"location": list(item["loc"]), "message": item["msg"], "type": item["type"]}
        for item in error.errors()
    ]
    return problem(
        422, "Unprocessable Content", "the request does not match the schema", errors=errors
    )


async def _unstorable_text(request: Request, error: Exception) -> JSONResponse:
    # Text PostgreSQL cannot store (a NUL character) is bad input, not a server error; the
    # transaction it was in rolled back, so nothing was written.
    return problem(
        422,
        "Unprocessable Content",
        "a text field holds a character that cannot be stored (e.g. NUL)",
        type_=PROBLEMS + "unstorable-text",
    )


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # The cause goes to the log, never to the caller.
    return problem(500, "Internal Server Error", "an unexpected error; it has been logged")


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error, Starlette's own included, through problem+json."""
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for unstorable in (
        asyncpg.CharacterNotInRepertoireError,
        asyncpg.UntranslatableCharacterError,
    ):
        app.add_exception_handler(unstorable, _unstorable_text)
    app.add_exception_handler(Exception, _unexpected)
