"""The audit service's own errors as typed problems; the shared ones (status codes, schema
validation, bad cursors) are plumbing's."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.audit.domain.errors import InvalidRange, NoTimeline, NotInDirectory
from services.plumbing.problems import Handler, add_problem_handlers, field_error, invalid, simple


async def _invalid_range(request: Request, error: Exception) -> JSONResponse:
    # The offending bound is known only at run time, so not a `field_problem`.
    assert isinstance(error, InvalidRange)
    location = ["query", error.field]
    return invalid(
        "invalid-range", str(error), [field_error(error.field, location, str(error), "range")]
    )


def install_audit_problems(app: FastAPI) -> None:
    """Every error of this service as a typed problem."""
    handlers: list[tuple[type[Exception], Handler]] = [
        (InvalidRange, _invalid_range),
        (NotInDirectory, simple(403, "not-in-directory")),
        (NoTimeline, simple(404, "no-timeline")),
    ]
    add_problem_handlers(app, handlers)
