"""Signing in and out through the configured OpenID Connect provider (authorization code flow
with PKCE, `services/web/oidc.py`): the county's identity provider in production, the local
dev provider (`deploy/local/dev_oidc.py`: pick an organisation and roles) in development. The
web front itself never makes a token."""

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.backend import ApiProblem
from services.web.oidc import OidcClient, Pending, SignInFailed
from services.web.pages.common import CsrfChecked, Services, render
from services.web.texts import LANGUAGES

router = APIRouter()
log = logging.getLogger(__name__)

# The session's key for a sign-in under way (state, nonce, PKCE verifier).
_PENDING = "sign_in"


def _provider(request: Request) -> OidcClient:
    found: OidcClient = request.app.state.oidc
    return found


@router.get("/sign-in")
async def sign_in(request: Request) -> Response:
    """Off to the provider; it sends the person back to /auth/callback."""
    pending = Pending.new()
    try:
        address = await _provider(request).authorization_url(pending)
    except SignInFailed as error:
        log.warning("sign-in could not start: %s", error)
        return render(request, "message.html", message="unavailable", status_code=503)
    request.session[_PENDING] = pending.as_session()
    return RedirectResponse(address, status_code=303)


@router.get("/auth/callback")
async def callback(
    request: Request,
    services: Services,
    code: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
    error: Annotated[str | None, Query()] = None,
) -> Response:
    # Taken from the session whatever happens: a callback is answered once.
    pending = Pending.from_session(request.session.pop(_PENDING, None))
    if pending is None or state is None or not secrets.compare_digest(state, pending.state):
        # Not the sign-in this browser started: another site's link, or one answered already.
        log.warning("sign-in refused: the callback's state is not this session's")
        return _failed(request)
    if error is not None or code is None:
        log.warning("sign-in refused by the provider: %s", error or "no code")
        return _failed(request)
    try:
        signed = await _provider(request).finish(pending, code=code)
    except SignInFailed as failure:
        log.warning("sign-in refused: %s", failure)
        return _failed(request)
    principal = signed.principal
    try:
        path = f"/v1/organisations/{principal.organisation_id}"
        entry = (await services.get("referral", path, signed.access_token)).body
    except ApiProblem as problem:
        log.warning(
            "sign-in refused: the organisation is not in the directory (%s)", problem.status
        )
        return _failed(request)
    _new_session(request)  # for a new person, with a new CSRF token
    request.session["person"] = {
        "token": signed.access_token,
        "actor_id": str(principal.actor_id),
        "organisation_id": str(principal.organisation_id),
        "organisation_name": entry["name"],
        "roles": sorted(role.value for role in principal.roles),
    }
    return RedirectResponse("/", status_code=303)


def _failed(request: Request) -> HTMLResponse:
    return render(request, "message.html", message="sign_in_failed", status_code=400)


@router.post("/sign-out", dependencies=[CsrfChecked])
async def sign_out(request: Request) -> RedirectResponse:
    _new_session(request)
    return RedirectResponse("/signed-out", status_code=303)


@router.get("/signed-out", response_class=HTMLResponse)
async def signed_out(request: Request) -> HTMLResponse:
    """Not straight back to the provider: where it remembers the person, that would sign
    them in again at once."""
    return render(request, "signed_out.html")


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
