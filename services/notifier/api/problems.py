"""The notifier's own errors as typed problems; the shared ones (status codes, schema
validation, bad cursors, reused Idempotency-Keys) are plumbing's."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.notifier.domain.errors import (
    EmailNotConfigured,
    InvalidAddress,
    NotDeadLettered,
    UnknownEventTypes,
    UnsafeTarget,
)
from services.notifier.usecases.errors import NotFound
from services.plumbing.problems import (
    Handler,
    add_problem_handlers,
    field_error,
    field_problem,
    invalid,
    problem,
    problem_type,
    simple,
)


async def _unsafe_target(request: Request, error: Exception) -> JSONResponse:
    # The code says why (private address, not https, ...), so not a `field_problem`.
    assert isinstance(error, UnsafeTarget)
    errors = [field_error("url", ["body", "url"], str(error), error.code)]
    return invalid("unsafe-webhook-target", str(error), errors)


async def _invalid_address(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidAddress)
    errors = [field_error("address", ["body", "address"], str(error), error.code)]
    return invalid("invalid-email-address", str(error), errors)


async def _not_dead_lettered(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, NotDeadLettered)
    return problem(
        409,
        "Conflict",
        str(error),
        type_=problem_type("not-dead-lettered"),
        current_status=error.status,
    )


def install_notifier_problems(app: FastAPI) -> None:
    """Every error of this service as a typed problem."""
    handlers: list[tuple[type[Exception], Handler]] = [
        (UnsafeTarget, _unsafe_target),
        (
            UnknownEventTypes,
            field_problem("unknown-event-type", ["body", "event_types"], "unknown_event_type"),
        ),
        (InvalidAddress, _invalid_address),
        (
            EmailNotConfigured,
            field_problem("email-not-configured", ["body", "kind"], "email_not_configured"),
        ),
        (NotDeadLettered, _not_dead_lettered),
        (NotFound, simple(404, "not-found")),
    ]
    add_problem_handlers(app, handlers)
