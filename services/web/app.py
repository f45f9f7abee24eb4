"""Wiring of the web front: sign-in through the OpenID Connect provider, sessions (a signed,
HttpOnly, SameSite=Lax cookie, so that the provider's redirect back carries it; Secure in
production), security headers, the pages, and what a failure looks like to a person."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from services.web.backend import ApiProblem, Backend
from services.web.oidc import OidcClient
from services.web.pages import audit, filing, referrals, sign_in
from services.web.pages.common import SignInNeeded, render
from services.web.settings import WebSettings

_HERE = Path(__file__).parent
log = logging.getLogger(__name__)

# Everything from this site only: no inline script, no frames of it elsewhere.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def create_app(
    settings: WebSettings, *, backend: Backend | None = None, oidc: OidcClient | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.backend.close()

    app = FastAPI(
        title="Overgang web", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.settings = settings
    app.state.backend = backend or Backend(
        {"referral": settings.referral_url, "audit": settings.audit_url}
    )
    app.state.oidc = oidc or OidcClient(
        issuer=settings.oidc_issuer,
        discovery_url=settings.oidc_discovery_url,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value(),
        redirect_uri=settings.redirect_uri,
    )
    app.state.templates = Jinja2Templates(directory=_HERE / "templates")
    app.state.organisation_names = {}
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_key.get_secret_value(),
        session_cookie="overgang_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.environment == "production",
    )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(_SECURITY_HEADERS)
        return response

    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    app.include_router(sign_in.router)
    app.include_router(filing.router)  # before /referrals/{referral_id}
    app.include_router(referrals.router)
    app.include_router(audit.router)
    _health(app, settings)
    _failures(app)
    return app


def _health(app: FastAPI, settings: WebSettings) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """Ready when the referral service it stands on answers."""
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                answered = (await client.get(f"{settings.referral_url}/healthz")).is_success
        except httpx.HTTPError:
            answered = False
        return JSONResponse(
            {"status": "ready" if answered else "the referral service does not answer"},
            status_code=200 if answered else 503,
        )


def _failures(app: FastAPI) -> None:
    @app.exception_handler(SignInNeeded)
    async def sign_in_first(request: Request, error: Exception) -> Response:
        return RedirectResponse("/sign-in", status_code=303)

    @app.exception_handler(ApiProblem)
    async def refused(request: Request, error: Exception) -> HTMLResponse:
        assert isinstance(error, ApiProblem)
        if error.status == 401:  # the token ran out: sign in again
            request.session.clear()
            return render(request, "message.html", message="expired", status_code=401)
        if error.status in (502, 503, 504):
            return render(request, "message.html", message="unavailable", status_code=503)
        return render(request, "message.html", message="error", status_code=error.status)

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> HTMLResponse:
        log.exception("a page failed", exc_info=error)
        return render(request, "message.html", message="error", status_code=500)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: Exception) -> HTMLResponse:
        assert isinstance(error, HTTPException)
        if error.detail == "csrf":
            return render(request, "message.html", message="expired", status_code=403)
        message = "not_found" if error.status_code == 404 else "error"
        return render(request, "message.html", message=message, status_code=error.status_code)
