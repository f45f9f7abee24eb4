"""What every page shares: the signed-in person (from the session cookie), the language, the
CSRF token every form carries, and rendering a template with all of that."""

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.web.backend import Backend
from services.web.texts import LANGUAGES, label, words


@dataclass(frozen=True)
class Person:
    """Who is signed in, as the session holds it: their token for the APIs, and what the
    pages show of it."""

    token: str
    actor_id: str
    organisation_id: str
    organisation_name: str
    roles: tuple[str, ...]

    def may(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


class SignInNeeded(Exception):
    """The page needs a signed-in person; the app answers with the sign-in page."""


def language(request: Request) -> str:
    chosen = request.session.get("language")
    return chosen if chosen in LANGUAGES else "nb"


def person(request: Request) -> Person | None:
    found = request.session.get("person")
    if found is None:
        return None
    try:
        return Person(**{**found, "roles": tuple(found["roles"])})
    except (TypeError, KeyError):  # a session of an older version: sign in again
        return None


def signed_in(request: Request) -> Person:
    found = person(request)
    if found is None:
        raise SignInNeeded
    return found


SignedIn = Annotated[Person, Depends(signed_in)]


def csrf_token(request: Request) -> str:
    """The session's token for its forms (made on first use)."""
    token = request.session.get("csrf")
    if token is None:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def checked_csrf(request: Request, csrf: Annotated[str, Form()] = "") -> None:
    """A form must carry the session's token: another site cannot post one for the person
    (with SameSite=Lax cookies as the second line)."""
    expected = request.session.get("csrf")
    if expected is None or not secrets.compare_digest(csrf, str(expected)):
        raise HTTPException(403, "csrf")


CsrfChecked = Depends(checked_csrf)


def backend(request: Request) -> Backend:
    found: Backend = request.app.state.backend
    return found


Services = Annotated[Backend, Depends(backend)]


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    chosen = language(request)
    return templates.TemplateResponse(
        request,
        template,
        {
            "lang": chosen,
            "t": words(chosen),
            "label": lambda code: label(chosen, code),
            "person": person(request),
            "csrf": csrf_token(request),
            **context,
        },
        status_code=status_code,
    )
