"""The referral service's errors as problem+json, each with a machine-readable `type` and,
for invalid input, the offending `field` in `errors`.

Status-only errors and schema validation go through the same types here; the mapping of
those two belongs in plumbing once every service uses typed problems."""

from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from services.plumbing.problems import PROBLEMS, problem
from services.referral.api.pagination import BadCursor
from services.referral.domain.errors import (
    ConsentAlreadyWithdrawn,
    ConsentDoesNotCover,
    GuardianConsentRequired,
    IllegalTransition,
    InvalidAssignee,
    InvalidConsent,
    InvalidIdentityNumber,
    NoAgreementRoute,
    NoLegalBasis,
    NotAllowed,
    RedirectToCurrentReceiver,
    ReferralDomainError,
    StaleVersion,
)
from services.referral.domain.retention import RetentionNotOver
from services.referral.store import worklists
from services.referral.store.errors import AlreadyExists, NotFound, SubjectErased
from services.referral.usecases.errors import (
    IdempotencyKeyReused,
    NotPermitted,
    OrganisationNumberTaken,
    ProcessingRestricted,
    UnknownOrganisations,
    UnknownReference,
)

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


def problem_type(slug: str) -> str:
    """The URI of a problem type."""
    return PROBLEMS + slug


def _field(location: Sequence[Any]) -> str:
    """`body.parties.0` → `parties.0`; a query or header parameter by its name."""
    inner = [str(part) for part in location[1:]] if len(location) > 1 else list(map(str, location))
    return ".".join(inner)


def invalid(
    slug: str, detail: str, errors: list[dict[str, Any]], *, status: int = 422
) -> JSONResponse:
    """A problem with the input, naming each offending field."""
    return problem(status, "Unprocessable Content", detail, type_=problem_type(slug), errors=errors)


def _error(field: str, location: list[Any], message: str, code: str) -> dict[str, Any]:
    return {"field": field, "location": location, "message": message, "type": code}


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
    # loc, msg and type only: pydantic's `input` would echo what was sent (identity numbers).
    errors = [
        _error(_field(item["loc"]), list(item["loc"]), item["msg"], item["type"])
        for item in error.errors()
    ]
    return invalid("invalid-request", "the request does not match the schema", errors)


async def _identity_number(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidIdentityNumber)
    location: list[Any] = ["body", "identity_number"]
    return invalid(
        "invalid-identity-number",
        str(error),
        [_error("identity_number", location, str(error), error.problem.value)],
    )


async def _unknown_organisations(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UnknownOrganisations)
    location: list[Any] = ["body", error.field]
    return invalid(
        "unknown-organisation",
        str(error),
        [_error(error.field, location, str(error), "unknown_organisation")],
    )


async def _organisation_number_taken(request: Request, error: Exception) -> JSONResponse:
    location: list[Any] = ["body", "organisation_number"]
    return invalid(
        "organisation-number-taken",
        str(error),
        [_error("organisation_number", location, str(error), "taken")],
        status=409,
    )


async def _idempotency_key_reused(request: Request, error: Exception) -> JSONResponse:
    location: list[Any] = ["header", "Idempotency-Key"]
    return invalid(
        "idempotency-key-reused",
        str(error),
        [_error("Idempotency-Key", location, str(error), "reused")],
    )


async def _bad_cursor(request: Request, error: Exception) -> JSONResponse:
    location: list[Any] = ["query", "cursor"]
    return invalid("invalid-cursor", str(error), [_error("cursor", location, str(error), "cursor")])


async def _unknown_reference(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UnknownReference)
    location: list[Any] = ["body", error.field]
    return invalid(
        "unknown-reference", str(error), [_error(error.field, location, str(error), "unknown")]
    )


async def _illegal_transition(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, IllegalTransition)
    return problem(
        409,
        "Conflict",
        str(error),
        type_=problem_type("illegal-transition"),
        current_status=error.status.value,
        action=error.action.value,
    )


async def _stale_version(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StaleVersion)
    return problem(
        412,
        "Precondition Failed",
        str(error),
        type_=problem_type("stale-version"),
        headers={"ETag": f'"{error.actual}"'},
        current_version=error.actual,
    )


async def _no_agreement_route(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, NoAgreementRoute)
    location: list[Any] = ["body", "to_organisation_id"]
    refusals = [
        {
            "code": refusal.code.value,
            "why": refusal.why,
            "agreement_id": None if refusal.agreement_id is None else str(refusal.agreement_id),
            "agreement_version": refusal.agreement_version,
        }
        for refusal in error.refusals
    ]
    return problem(
        422,
        "Unprocessable Content",
        str(error),
        type_=problem_type("no-agreement-route"),
        errors=[_error("to_organisation_id", location, str(error), "no_agreement_route")],
        refusals=refusals,
    )


async def _no_legal_basis(request: Request, error: Exception) -> JSONResponse:
    message = str(error)
    return invalid(
        "no-legal-basis",
        message,
        [
            _error("consent_id", ["body", "consent_id"], message, "missing"),
            _error("statutory_basis", ["body", "statutory_basis"], message, "missing"),
        ],
    )


async def _consent_refused(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ConsentDoesNotCover | GuardianConsentRequired)
    code = (
        error.reason.value
        if isinstance(error, ConsentDoesNotCover)
        else "guardian_consent_required"
    )
    return invalid(
        "consent-does-not-cover",
        str(error),
        [_error("consent_id", ["body", "consent_id"], str(error), code)],
    )


async def _invalid_assignee(request: Request, error: Exception) -> JSONResponse:
    return invalid(
        "invalid-assignee",
        str(error),
        [_error("assignee_id", ["body", "assignee_id"], str(error), "invalid_assignee")],
    )


async def _redirect_to_current_receiver(request: Request, error: Exception) -> JSONResponse:
    location: list[Any] = ["body", "to_organisation_id"]
    return invalid(
        "redirect-to-current-receiver",
        str(error),
        [_error("to_organisation_id", location, str(error), "current_receiver")],
    )


async def _invalid_consent(request: Request, error: Exception) -> JSONResponse:
    # The domain's rule names what is wrong (no purpose, no recipient, expiry not ahead).
    return invalid(
        "invalid-consent", str(error), [_error("body", ["body"], str(error), "invalid_consent")]
    )


async def _retention_not_over(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RetentionNotOver)
    return problem(
        409,
        "Conflict",
        str(error),
        type_=problem_type("retention-not-over"),
        open_referrals=error.open_referrals,
        retained_until=None if error.until is None else error.until.isoformat(),
    )


class PreconditionRequired(Exception):
    """A change came without the version (ETag) it acts on, in If-Match."""


async def _precondition_required(request: Request, error: Exception) -> JSONResponse:
    return problem(
        428, "Precondition Required", str(error), type_=problem_type("precondition-required")
    )


def _simple(
    status: int, title: str, slug: str
) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, error: Exception) -> JSONResponse:
        return problem(status, title, str(error), type_=problem_type(slug))

    return handle


def install_referral_problems(app: FastAPI) -> None:
    """Every error of this service as a typed problem."""
    handlers: list[tuple[type[Exception], Callable[[Request, Exception], Awaitable[Response]]]] = [
        (HTTPException, _http),
        (RequestValidationError, _validation),
        (InvalidIdentityNumber, _identity_number),
        (UnknownOrganisations, _unknown_organisations),
        (OrganisationNumberTaken, _organisation_number_taken),
        (IdempotencyKeyReused, _idempotency_key_reused),
        (BadCursor, _bad_cursor),
        (worklists.BadCursor, _bad_cursor),
        (UnknownReference, _unknown_reference),
        (IllegalTransition, _illegal_transition),
        (NoAgreementRoute, _no_agreement_route),
        (NoLegalBasis, _no_legal_basis),
        (ConsentDoesNotCover, _consent_refused),
        (GuardianConsentRequired, _consent_refused),
        (InvalidAssignee, _invalid_assignee),
        (RedirectToCurrentReceiver, _redirect_to_current_receiver),
        (NotAllowed, _simple(403, "Forbidden", "not-allowed")),
        (PreconditionRequired, _precondition_required),
        (InvalidConsent, _invalid_consent),
        (ConsentAlreadyWithdrawn, _simple(409, "Conflict", "consent-already-withdrawn")),
        (RetentionNotOver, _retention_not_over),
        (ProcessingRestricted, _simple(409, "Conflict", "processing-restricted")),
        (NotFound, _simple(404, "Not Found", "not-found")),
        (SubjectErased, _simple(410, "Gone", "subject-erased")),
        (AlreadyExists, _simple(409, "Conflict", "already-exists")),
        (NotPermitted, _simple(403, "Forbidden", "forbidden")),
        (StaleVersion, _stale_version),
        (ReferralDomainError, _simple(422, "Unprocessable Content", "domain-rule")),
    ]
    for error_type, handler in handlers:
        app.add_exception_handler(error_type, handler)
