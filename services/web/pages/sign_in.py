"""Signing in and out. In development the sign-in page lets anyone pick an organisation and
roles and hands out a token of the local development issuer (the services trust it there
only); production signs in through the county's OIDC provider (not built yet)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from deploy.local.dev_issuer import issue
from schemas.codes import Role
from services.web.backend import ApiProblem
from services.web.pages.common import CsrfChecked, Services, render
from services.web.texts import LANGUAGES

router = APIRouter()

# Who lists the directory for the development sign-in page: nobody in particular.
_DIRECTORY_READER = uuid.UUID(int=0)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, services: Services) -> HTMLResponse:
    token = issue(
        request.app.state.settings.dev_issuer_dir,
        organisation=_DIRECTORY_READER,
        roles=[Role.FILER],
        ttl_s=60,
    )
    organisations = await services.items(
        "referral", "/v1/organisations", token, {"limit": 200}, most=100_000
    )
    return render(request, "sign_in.html", organisations=organisations, roles=list(Role))


@router.post("/sign-in", dependencies=[CsrfChecked])
async def sign_in(
    request: Request,
    services: Services,
    organisation_id: Annotated[uuid.UUID, Form()],
    role: Annotated[list[Role], Form()],
) -> RedirectResponse:
    settings = request.app.state.settings
    actor_id = uuid.uuid4()  # the identity provider's user id, in production
    token = issue(
        settings.dev_issuer_dir,
        organisation=organisation_id,
        roles=role,
        actor=actor_id,
        ttl_s=settings.session_max_age_s,
    )
    try:
        entry = (await services.get("referral", f"/v1/organisations/{organisation_id}", token)).body
    except ApiProblem:
        return RedirectResponse("/sign-in", status_code=303)
    _new_session(request)  # for a new person, with a new CSRF token
    request.session["person"] = {
        "token": token,
        "actor_id": str(actor_id),
        "organisation_id": str(organisation_id),
        "organisation_name": entry["name"],
        "roles": [r.value for r in role],
    }
    return RedirectResponse("/", status_code=303)


@router.post("/sign-out", dependencies=[CsrfChecked])
async def sign_out(request: Request) -> RedirectResponse:
    _new_session(request)
    return RedirectResponse("/sign-in", status_code=303)


def _new_session(request: Request) -> None:
    """Nothing of the session kept but the language chosen."""
    language = request.session.get("language")
    request.session.clear()
    if language is not None:
        request.session["language"] = language


@router.post("/language", dependencies=[CsrfChecked])
async def choose_language(
    request: Request, language: Annotated[str, Form()], back: Annotated[str, Form()] = "/"
) -> RedirectResponse:
    if language in LANGUAGES:
        request.session["language"] = language
    # Only a path of this site: never a redirect elsewhere.
    return RedirectResponse(
        back if back.startswith("/") and not back.startswith("//") else "/", 303
    )
