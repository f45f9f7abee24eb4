"""Bearer tokens: the dev issuer's tokens verify, and every way a token can be wrong is a 401
that says why; roles are enforced with 403."""

import base64
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from deploy.local.dev_issuer import ensure_keys, issue, jwks_file
from schemas.codes import Role
from services.plumbing.auth import (
    AUDIENCE,
    DEV_ISSUER,
    CurrentPrincipal,
    JwksSource,
    Principal,
    TokenVerifier,
    Unauthenticated,
    require_role,
)
from services.plumbing.problems import install_problem_handlers

NAV_OFFICE = uuid.UUID("66666666-7777-4888-9999-aaaaaaaaaaaa")


@pytest.fixture
def issuer_dir(tmp_path: Path) -> Path:
    ensure_keys(tmp_path)
    return tmp_path


def verifier(issuer_dir: Path, **changes: object) -> TokenVerifier:
    settings: dict[str, object] = {"issuer": DEV_ISSUER, "audience": AUDIENCE, **changes}
    return TokenVerifier(JwksSource(str(jwks_file(issuer_dir))), **settings)  # type: ignore[arg-type]


def signed(issuer_dir: Path, **claims: object) -> str:
    """A token with the dev key, with some claims changed or removed (None)."""
    key = ensure_keys(issuer_dir)
    now = int(time.time())
    base: dict[str, object] = {
        "iss": DEV_ISSUER, "aud": AUDIENCE, "sub": str(uuid.uuid4()), "org": str(NAV_OFFICE),
        "roles": ["counsellor"], "iat": now, "exp": now + 600,
    }  # fmt: skip
    base.update(claims)
    return jwt.encode(
        {"alg": "ES256", "kid": key.kid}, {k: v for k, v in base.items() if v is not None}, key
    )


async def test_a_dev_issuer_token_gives_its_actor_organisation_and_roles(issuer_dir: Path) -> None:
    actor = uuid.uuid4()
    token = issue(
        issuer_dir, organisation=NAV_OFFICE, roles=[Role.COUNSELLOR, Role.COORDINATOR], actor=actor
    )

    principal = await verifier(issuer_dir).verify(token)

    assert principal == Principal(actor, NAV_OFFICE, frozenset({Role.COUNSELLOR, Role.COORDINATOR}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("claims", "complaint"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"aud": "someone-else"}, "aud"),
        ({"iss": "https://elsewhere.example"}, "iss"),
        ({"org": None}, "org"),
        ({"roles": None}, "roles"),
        ({"org": "not-a-uuid"}, "UUID"),
        ({"roles": ["boss"]}, "known roles"),
    ],
)
async def test_a_token_with_a_wrong_claim_is_refused_saying_which(
    issuer_dir: Path, claims: dict[str, object], complaint: str
) -> None:
    with pytest.raises(Unauthenticated, match=complaint):
        await verifier(issuer_dir).verify(signed(issuer_dir, **claims))


async def test_a_token_signed_by_another_key_is_refused(issuer_dir: Path, tmp_path: Path) -> None:
    other = ECKey.generate_key("P-256", auto_kid=True)
    now = int(time.time())
    forged = jwt.encode(
        {"alg": "ES256", "kid": ensure_keys(issuer_dir).kid},
        {"iss": DEV_ISSUER, "aud": AUDIENCE, "sub": str(uuid.uuid4()), "org": str(NAV_OFFICE),
         "roles": ["admin"], "exp": now + 600},
        other,
    )  # fmt: skip

    with pytest.raises(Unauthenticated, match="cannot be verified"):
        await verifier(issuer_dir).verify(forged)


async def test_a_remembered_token_still_expires(issuer_dir: Path) -> None:
    now = [time.time()]
    checking = verifier(issuer_dir, clock=lambda: now[0])
    token = signed(issuer_dir, exp=int(now[0]) + 60)
    await checking.verify(token)
    await checking.verify(token)  # remembered: its signature is not checked again

    now[0] += 3600
    with pytest.raises(Unauthenticated, match="expired"):
        await checking.verify(token)


async def test_a_token_is_verified_again_under_a_new_key_set(
    issuer_dir: Path, tmp_path: Path
) -> None:
    checking = verifier(issuer_dir)
    token = signed(issuer_dir)
    await checking.verify(token)

    # The issuer's keys change (its key is withdrawn): the remembered signature no longer counts.
    other = ECKey.generate_key("P-256", auto_kid=True)
    withdrawn = tmp_path / "withdrawn.json"
    withdrawn.write_text(json.dumps({"keys": [other.as_dict(private=False)]}))
    checking.jwks = JwksSource(str(withdrawn))
    with pytest.raises(Unauthenticated, match="cannot be verified"):
        await checking.verify(token)


async def test_garbage_and_unsigned_tokens_are_refused(issuer_dir: Path) -> None:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    unsigned = f"{part({'alg': 'none'})}.{part({'sub': 'x', 'org': str(NAV_OFFICE)})}."
    for token in ["not-a-jwt", "a.b.c", unsigned]:
        with pytest.raises(Unauthenticated):
            await verifier(issuer_dir).verify(token)


async def test_keys_come_from_an_https_jwks_and_are_cached(issuer_dir: Path) -> None:
    fetched: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, json=json.loads(jwks_file(issuer_dir).read_text()))

    source = JwksSource("https://issuer.example/jwks", transport=httpx.MockTransport(serve))
    check = TokenVerifier(source, issuer=DEV_ISSUER, audience=AUDIENCE)

    for _ in range(3):
        await check.verify(issue(issuer_dir, organisation=NAV_OFFICE, roles=[Role.FILER]))

    assert fetched == ["https://issuer.example/jwks"]


def _app(issuer_dir: Path) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = verifier(issuer_dir)

    @app.get("/whoami")
    async def whoami(principal: CurrentPrincipal) -> dict[str, str]:
        return {"organisation": str(principal.organisation_id)}

    @app.get("/worklist", dependencies=[Depends(require_role(Role.COUNSELLOR, Role.COORDINATOR))])
    async def worklist() -> list[str]:
        return []

    return app


def test_no_token_is_a_401_problem_with_a_bearer_challenge(issuer_dir: Path) -> None:
    response = TestClient(_app(issuer_dir)).get("/whoami")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


def test_an_expired_token_is_a_401_that_says_so(issuer_dir: Path) -> None:
    token = issue(
        issuer_dir, organisation=NAV_OFFICE, roles=[Role.COUNSELLOR], now=time.time() - 7200
    )

    response = TestClient(_app(issuer_dir)).get(
        "/whoami", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_role_outside_the_route_is_a_403_and_a_role_inside_passes(issuer_dir: Path) -> None:
    client = TestClient(_app(issuer_dir))
    filer = issue(issuer_dir, organisation=NAV_OFFICE, roles=[Role.FILER])
    counsellor = issue(issuer_dir, organisation=NAV_OFFICE, roles=[Role.COUNSELLOR])

    refused = client.get("/worklist", headers={"Authorization": f"Bearer {filer}"})
    allowed = client.get("/worklist", headers={"Authorization": f"Bearer {counsellor}"})

    assert refused.status_code == 403
    assert refused.json()["detail"] == "this needs one of the roles: coordinator, counsellor"
    assert allowed.status_code == 200
