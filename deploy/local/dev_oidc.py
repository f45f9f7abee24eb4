"""The local development OpenID Connect provider: the web front signs in through it exactly as
it signs in through a county's identity provider in production (authorization code flow with
PKCE), but here anyone picks an organisation and roles on its page. The access token it hands
out is the local dev issuer's (`deploy.local.dev_issuer.issue`: what the services trust
locally); the ID token is signed with the same key and published on `/jwks`.

`python -m deploy.local.dev_oidc --port 8030 --referral-url http://127.0.0.1:8000
--client-id overgang-web --redirect-uri http://127.0.0.1:8020/auth/callback` (the client's
secret in `OVERGANG_DEV_OIDC_CLIENT_SECRET`). `overgang stack up --services` starts it.

Development only: it refuses to run with `OVERGANG_ENVIRONMENT=production`."""

import argparse
import json
import os
import secrets
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
import jinja2
import uvicorn
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from joserfc import jwt

from deploy.local.dev_issuer import ensure_keys, issue, jwks_file
from schemas.codes import Role
from services.web.oidc import pkce_challenge
from services.web.texts import label

PORT = 8030
CLIENT_SECRET_VARIABLE = "OVERGANG_DEV_OIDC_CLIENT_SECRET"  # noqa: S105 (a name, not a secret)
# A code is exchanged at once by the client that asked for it; a minute is plenty.
CODE_TTL_S = 60
# Who lists the directory for the provider's page: nobody in particular.
_DIRECTORY_READER = uuid.UUID(int=0)

_PAGE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="nb">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Utviklingsinnlogging · Overgang</title>
  <style>
    body { font: 1rem/1.5 system-ui, sans-serif; color: #1a1a1a; background: #fff;
           max-width: 32rem; margin: 0 auto; padding: 1rem; }
    form { display: grid; gap: .5rem; }
    select, button { font: inherit; padding: .4rem; }
    button { background: #0b4f8a; color: #fff; border: 2px solid #0b4f8a; border-radius: 4px; }
    fieldset { border: 1px solid #6b6b6b; border-radius: 4px; }
    :focus-visible { outline: 3px solid #0b4f8a; outline-offset: 2px; }
    .problem { color: #8a1c00; font-weight: 600; }
  </style>
</head>
<body>
<main>
  <h1>Utviklingsinnlogging</h1>
  <p>Bare for utvikling: velg virksomhet og roller. I drift logger du inn hos fylkets
    identitetstjeneste.</p>
  {% if problem %}<p class="problem" role="alert">{{ problem }}</p>{% endif %}
  <form method="post" action="/authorize">
    {% for name, value in request_parameters.items() %}
    <input type="hidden" name="{{ name }}" value="{{ value }}">
    {% endfor %}
    <label for="organisation">Virksomhet</label>
    <select id="organisation" name="organisation_id" required>
      {% for organisation in organisations %}
      <option value="{{ organisation.organisation_id }}">{{ organisation.name }}</option>
      {% endfor %}
    </select>
    <fieldset>
      <legend>Roller</legend>
      {% for role, role_label in roles %}
      <div>
        <input type="checkbox" id="role-{{ role }}" name="role" value="{{ role }}">
        <label for="role-{{ role }}">{{ role_label }}</label>
      </div>
      {% endfor %}
    </fieldset>
    <button type="submit">Logg inn</button>
  </form>
</main>
</body>
</html>
"""
)

# The parameters of an authorization request that the page carries through its form.
_REQUEST_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)


@dataclass(frozen=True)
class Client:
    """The one client registered with this provider: the web front."""

    client_id: str
    secret: str
    redirect_uris: frozenset[str]


@dataclass(frozen=True)
class _Grant:
    """What a code stands for until it is exchanged."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    organisation: uuid.UUID
    roles: tuple[Role, ...]
    actor: uuid.UUID
    expires_at: float


@dataclass
class _Codes:
    """Codes not yet exchanged. Each is taken once: a second exchange finds nothing."""

    grants: dict[str, _Grant] = field(default_factory=dict)

    def add(self, grant: _Grant) -> str:
        now = time.time()
        for code in [code for code, found in self.grants.items() if found.expires_at < now]:
            del self.grants[code]
        code = secrets.token_urlsafe(32)
        self.grants[code] = grant
        return code

    def take(self, code: str) -> _Grant | None:
        grant = self.grants.pop(code, None)
        return grant if grant is not None and grant.expires_at >= time.time() else None


def refuse_production() -> None:
    if os.environ.get("OVERGANG_ENVIRONMENT", "development") == "production":
        raise RuntimeError(
            "the development OIDC provider lets anyone sign in as anyone: never in production"
        )


def create_app(
    *,
    issuer: str,
    issuer_dir: Path,
    referral_url: str,
    client: Client,
    token_ttl_s: int = 8 * 3600,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The provider at `issuer` (its own base URL), signing with the dev issuer's key."""
    refuse_production()
    ensure_keys(issuer_dir)
    app = FastAPI(title="Overgang dev OIDC", docs_url=None, redoc_url=None, openapi_url=None)
    codes = _Codes()
    basic = HTTPBasic(auto_error=False)

    @app.get("/.well-known/openid-configuration")
    async def configuration() -> JSONResponse:
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "scopes_supported": ["openid"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
            }
        )

    @app.get("/jwks")
    async def jwks() -> JSONResponse:
        return JSONResponse(json.loads(jwks_file(issuer_dir).read_text()))

    @app.get("/healthz")
    @app.get("/readyz")
    async def healthy() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    def request_problem(parameters: dict[str, str]) -> str | None:
        """What is wrong with an authorization request, if anything. The client and its
        redirect URI are checked first: a request that fails them is never sent back."""
        if parameters.get("client_id") != client.client_id:
            return "unknown client_id"
        if parameters.get("redirect_uri") not in client.redirect_uris:
            return "redirect_uri is not registered for this client"
        if parameters.get("response_type") != "code":
            return "response_type must be code"
        if "openid" not in parameters.get("scope", "").split():
            return "scope must include openid"
        if not parameters.get("state"):
            return "state is missing"
        if not parameters.get("code_challenge"):
            return "code_challenge is missing (PKCE is required)"
        if parameters.get("code_challenge_method") != "S256":
            return "code_challenge_method must be S256"
        return None

    async def organisations() -> list[dict[str, Any]]:
        token = issue(issuer_dir, organisation=_DIRECTORY_READER, roles=[Role.FILER], ttl_s=60)
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        async with httpx.AsyncClient(
            base_url=referral_url, timeout=10, transport=transport
        ) as directory:
            while True:
                params: dict[str, str | int] = {"limit": 200} | (
                    {"cursor": cursor} if cursor else {}
                )
                response = await directory.get(
                    "/v1/organisations",
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                )
                response.raise_for_status()
                page = response.json()
                found += page["items"]
                cursor = page["next_cursor"]
                if cursor is None:
                    return found

    async def page(parameters: dict[str, str], problem: str | None = None) -> HTMLResponse:
        return HTMLResponse(
            _PAGE.render(
                request_parameters={name: parameters.get(name, "") for name in _REQUEST_PARAMETERS},
                organisations=await organisations(),
                roles=[(role.value, label("nb", role.value)) for role in Role],
                problem=problem,
            ),
            status_code=200 if problem is None else 400,
        )

    @app.get("/authorize", response_class=HTMLResponse)
    async def authorize_page(request: Request) -> Response:
        parameters = dict(request.query_params)
        problem = request_problem(parameters)
        if problem is not None:
            return HTMLResponse(f"Bad authorization request: {problem}", status_code=400)
        return await page(parameters)

    @app.post("/authorize")
    async def authorize(
        request: Request,
        organisation_id: Annotated[uuid.UUID, Form()],
        role: Annotated[list[Role] | None, Form()] = None,
    ) -> Response:
        parameters = {name: str(value) for name, value in (await request.form()).items()}
        problem = request_problem(parameters)
        if problem is not None:
            return HTMLResponse(f"Bad authorization request: {problem}", status_code=400)
        if not role:
            return await page(parameters, problem="Velg minst én rolle.")
        code = codes.add(
            _Grant(
                client_id=parameters["client_id"],
                redirect_uri=parameters["redirect_uri"],
                code_challenge=parameters["code_challenge"],
                nonce=parameters.get("nonce") or None,
                organisation=organisation_id,
                roles=tuple(role),
                actor=uuid.uuid4(),  # a new person each sign-in: there is no user directory
                expires_at=time.time() + CODE_TTL_S,
            )
        )
        back = urlencode({"code": code, "state": parameters["state"]})
        return RedirectResponse(f"{parameters['redirect_uri']}?{back}", status_code=303)

    def token_error(error: str, status_code: int = 400) -> JSONResponse:
        return JSONResponse({"error": error}, status_code=status_code)

    @app.post("/token")
    async def token(
        request: Request,
        credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)],
    ) -> JSONResponse:
        form = {name: str(value) for name, value in (await request.form()).items()}
        client_id, secret = (
            (credentials.username, credentials.password)
            if credentials is not None
            else (form.get("client_id", ""), form.get("client_secret", ""))
        )
        if client_id != client.client_id or not secrets.compare_digest(
            secret.encode(), client.secret.encode()
        ):
            return token_error("invalid_client", 401)
        if form.get("grant_type") != "authorization_code":
            return token_error("unsupported_grant_type")
        # Taken before anything else is checked: a code is good for one try only.
        grant = codes.take(form.get("code", ""))
        if (
            grant is None
            or grant.client_id != client_id
            or grant.redirect_uri != form.get("redirect_uri")
            or not secrets.compare_digest(
                pkce_challenge(form.get("code_verifier", "")), grant.code_challenge
            )
        ):
            return token_error("invalid_grant")
        access_token = issue(
            issuer_dir,
            organisation=grant.organisation,
            roles=grant.roles,
            actor=grant.actor,
            ttl_s=token_ttl_s,
        )
        now = int(time.time())
        id_claims: dict[str, Any] = {
            "iss": issuer,
            "aud": client_id,
            "sub": str(grant.actor),
            "iat": now,
            "exp": now + 300,
            "auth_time": now,
        }
        if grant.nonce is not None:
            id_claims["nonce"] = grant.nonce
        key = ensure_keys(issuer_dir)
        id_token = jwt.encode({"alg": "ES256", "kid": key.kid}, id_claims, key)
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": token_ttl_s,
                "id_token": id_token,
            },
            headers={"Cache-Control": "no-store"},
        )

    return app


def main(arguments: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--issuer-dir", type=Path, required=True, help="the dev issuer's keys")
    parser.add_argument("--referral-url", required=True, help="for the organisations' list")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--redirect-uri", action="append", required=True)
    parsed = parser.parse_args(arguments)
    secret = os.environ.get(CLIENT_SECRET_VARIABLE)
    if not secret:
        sys.exit(f"{CLIENT_SECRET_VARIABLE} must hold the client's secret")
    try:
        app = create_app(
            issuer=f"http://{parsed.host}:{parsed.port}",
            issuer_dir=parsed.issuer_dir,
            referral_url=parsed.referral_url,
            client=Client(parsed.client_id, secret, frozenset(parsed.redirect_uri)),
        )
    except RuntimeError as error:
        sys.exit(str(error))
    uvicorn.run(app, host=parsed.host, port=parsed.port, log_level="warning")


if __name__ == "__main__":
    main()
