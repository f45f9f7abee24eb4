"""The referral service's errors as problem+json, each with a machine-readable `type` and,
for invalid input, the offending `field` in `errors`. The shared ones (status codes, schema
validation, bad cursors, reused Idempotency-Keys) are plumbing's."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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
from services.referral.store.errors import AlreadyExists, NotFound, NotRestricted, SubjectErased
from services.referral.usecases.errors import (
    NotPermitted,
    OrganisationNumberTaken,
    ProcessingRestricted,
    UnknownOrganisations,
    UnknownReference,
)
from services.referral.usecases.ingress import EventIdTaken, NotTheReporter


async def _identity_number(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidIdentityNumber)
    location: list[Any] = ["body", "identity_number"]
    return invalid(
        "invalid-identity-number",
        str(error),
        [field_error("identity_number", location, str(error), error.problem.value)],
    )


async def _unknown_organisations(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UnknownOrganisations)
    location: list[Any] = ["body", error.field]
    return invalid(
        "unknown-organisation",
        str(error),
        [field_error(error.field, location, str(error), "unknown_organisation")],
    )


async def _unknown_reference(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UnknownReference)
    location: list[Any] = ["body", error.field]
    return invalid(
        "unknown-reference", str(error), [field_error(error.field, location, str(error), "unknown")]
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
        errors=[field_error("to_organisation_id", location, str(error), "no_agreement_route")],
        refusals=refusals,
    )


async def _no_legal_basis(request: Request, error: Exception) -> JSONResponse:
    message = str(error)
    return invalid(
        "no-legal-basis",
        message,
        [
            field_error("consent_id", ["body", "consent_id"], message, "missing"),
            field_error("statutory_basis", ["body", "statutory_basis"], message, "missing"),
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
        [field_error("consent_id", ["body", "consent_id"], str(error), code)],
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


async def _not_the_reporter(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, NotTheReporter)
    return problem(
        403, "Forbidden", str(error), type_=problem_type("not-the-reporter"), indexes=error.indexes
    )


async def _event_id_taken(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, EventIdTaken)
    return problem(
        409, "Conflict", str(error), type_=problem_type("event-id-taken"), indexes=error.indexes
    )


class PreconditionRequired(Exception):
    """A change came without the version (ETag) it acts on, in If-Match."""


def install_referral_problems(app: FastAPI) -> None:
    """Every error of this service as a typed problem."""
    handlers: list[tuple[type[Exception], Handler]] = [
        (InvalidIdentityNumber, _identity_number),
        (UnknownOrganisations, _unknown_organisations),
        (
            OrganisationNumberTaken,
            field_problem(
                "organisation-number-taken", ["body", "organisation_number"], "taken", status=409
            ),
        ),
        (UnknownReference, _unknown_reference),
        (IllegalTransition, _illegal_transition),
        (NoAgreementRoute, _no_agreement_route),
        (NoLegalBasis, _no_legal_basis),
        (ConsentDoesNotCover, _consent_refused),
        (GuardianConsentRequired, _consent_refused),
        (
            InvalidAssignee,
            field_problem("invalid-assignee", ["body", "assignee_id"], "invalid_assignee"),
        ),
        (
            RedirectToCurrentReceiver,
            field_problem(
                "redirect-to-current-receiver", ["body", "to_organisation_id"], "current_receiver"
            ),
        ),
        (NotAllowed, simple(403, "not-allowed")),
        (PreconditionRequired, simple(428, "precondition-required")),
        # The domain's rule names what is wrong (no purpose, no recipient, expiry not ahead).
        (InvalidConsent, field_problem("invalid-consent", ["body"], "invalid_consent")),
        (ConsentAlreadyWithdrawn, simple(409, "consent-already-withdrawn")),
        (RetentionNotOver, _retention_not_over),
        (ProcessingRestricted, simple(409, "processing-restricted")),
        (NotFound, simple(404, "not-found")),
        (SubjectErased, simple(410, "subject-erased")),
        (NotRestricted, simple(409, "not-restricted")),
        (AlreadyExists, simple(409, "already-exists")),
        (NotPermitted, simple(403, "forbidden")),
        (StaleVersion, _stale_version),
        (NotTheReporter, _not_the_reporter),
        (EventIdTaken, _event_id_taken),
        (ReferralDomainError, simple(422, "domain-rule")),
    ]
    add_problem_handlers(app, handlers)
