"""The development OIDC provider on its own (the referral service's directory an httpx mock):
it sends a code back only to the registered redirect URI, a code is good for one exchange
with the right PKCE verifier and the client's secret, the access token is one the services
accept, the ID token carries the nonce, and production refuses it."""

import base64
import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet

from deploy.local import dev_oidc
from deploy.local.dev_issuer import jwks_file
from deploy.local.dev_oidc import Client, create_app
from schemas.codes import Role
from services.plumbing.auth import AUDIENCE, DEV_ISSUER, JwksSource, TokenVerifier

ISSUER = "http://oidc.test"
REDIRECT_URI = "http://web.test/auth/callback"
CLIENT = Client("overgang-web", "the-web-fronts-secret", frozenset({REDIRECT_URI}))
NAV = uuid.UUID("6f1c2a4e-0000-4000-8000-000000000001")
VERIFIER = "a-verifier-of-at-least-forty-three-characters-0123456789"


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _directory(request: httpx.Request) -> httpx.Response:
    assert request.headers["authorization"].startswith("Bearer ")
    items = [{"organisation_id": str(NAV), "name": "NAV Test"}]
    return httpx.Response(200, json={"items": items, "next_cursor": None})


@pytest.fixture
def provider(tmp_path: Path) -> TestClient:
    app = create_app(
        issuer=ISSUER,
        issuer_dir=tmp_path,
        referral_url="http://referral.test",
        client=CLIENT,
        transport=httpx.MockTransport(_directory),
    )
    return TestClient(app, base_url=ISSUER)


def _request(**changes: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": CLIENT.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "state": "the-state",
        "nonce": "the-nonce",
        "code_challenge": _challenge(VERIFIER),
        "code_challenge_method": "S256",
    } | changes


def _code(provider: TestClient, *roles: Role) -> str:
    """Through the page: the organisation and roles picked, a code sent back."""
    answer = provider.post(
        "/authorize",
        data={**_request(), "organisation_id": str(NAV), "role": [r.value for r in roles]},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["the-state"]
    return str(query["code"][0])


def _exchange(provider: TestClient, code: str, **changes: str) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
    } | changes
    answer: httpx.Response = provider.post(
        "/token", data=form, auth=(CLIENT.client_id, CLIENT.secret)
    )
    return answer


def test_the_configuration_names_the_endpoints_and_pkce(provider: TestClient) -> None:
    found = provider.get("/.well-known/openid-configuration").json()

    assert found["issuer"] == ISSUER
    assert found["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert found["token_endpoint"] == f"{ISSUER}/token"
    assert found["code_challenge_methods_supported"] == ["S256"]
    assert provider.get("/jwks").json()["keys"][0]["kty"] == "EC"


def test_the_page_lists_the_organisations_and_labels_every_field(provider: TestClient) -> None:
    page = provider.get(f"/authorize?{urlencode(_request())}")

    assert page.status_code == 200
    assert "NAV Test" in page.text
    assert '<label for="organisation">Virksomhet</label>' in page.text
    for role in Role:
        assert f'<label for="role-{role.value}">' in page.text
    # The request goes on with the form, as it came.
    assert 'name="code_challenge" value="' + _challenge(VERIFIER) + '"' in page.text


@pytest.mark.parametrize(
    "changes",
    [
        {"redirect_uri": "https://evil.test/callback"},
        {"client_id": "someone-else"},
        {"code_challenge": ""},
        {"code_challenge_method": "plain"},
        {"scope": "profile"},
        {"state": ""},
    ],
)
def test_a_bad_request_is_refused_and_sent_nowhere(
    provider: TestClient, changes: dict[str, str]
) -> None:
    for answer in (
        provider.get(f"/authorize?{urlencode(_request(**changes))}", follow_redirects=False),
        provider.post(
            "/authorize",
            data={**_request(**changes), "organisation_id": str(NAV), "role": "counsellor"},
            follow_redirects=False,
        ),
    ):
        assert answer.status_code == 400
        assert "location" not in answer.headers


def test_no_role_picked_asks_for_one(provider: TestClient) -> None:
    answer = provider.post("/authorize", data={**_request(), "organisation_id": str(NAV)})

    assert answer.status_code == 400
    assert re.search(r'role="alert">Velg minst én rolle', answer.text)


async def test_the_access_token_is_one_the_services_accept_and_the_id_token_has_the_nonce(
    provider: TestClient, tmp_path: Path
) -> None:
    tokens = _exchange(provider, _code(provider, Role.COUNSELLOR, Role.COORDINATOR)).json()

    verifier = TokenVerifier(
        JwksSource(str(jwks_file(tmp_path))), issuer=DEV_ISSUER, audience=AUDIENCE
    )
    principal = await verifier.verify(tokens["access_token"])
    assert principal.organisation_id == NAV
    assert principal.roles == {Role.COUNSELLOR, Role.COORDINATOR}
    keys = KeySet.import_key_set(provider.get("/jwks").json())
    identity: dict[str, Any] = jwt.decode(tokens["id_token"], keys).claims
    assert identity["iss"] == ISSUER
    assert identity["aud"] == CLIENT.client_id
    assert identity["nonce"] == "the-nonce"
    assert identity["sub"] == str(principal.actor_id)
    assert tokens["token_type"] == "Bearer"


def test_a_code_is_good_for_one_exchange(provider: TestClient) -> None:
    code = _code(provider, Role.COUNSELLOR)
    assert _exchange(provider, code).status_code == 200

    again = _exchange(provider, code)

    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant"}


def test_a_wrong_verifier_is_refused_and_burns_the_code(provider: TestClient) -> None:
    code = _code(provider, Role.COUNSELLOR)

    wrong = _exchange(provider, code, code_verifier="another-verifier-" + "x" * 40)

    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant"}
    assert _exchange(provider, code).status_code == 400


def test_the_redirect_uri_must_be_the_one_the_code_was_sent_to(provider: TestClient) -> None:
    code = _code(provider, Role.COUNSELLOR)

    answer = _exchange(provider, code, redirect_uri="http://web.test/elsewhere")

    assert answer.json() == {"error": "invalid_grant"}


def test_a_wrong_client_secret_is_refused(provider: TestClient) -> None:
    code = _code(provider, Role.COUNSELLOR)

    answer = provider.post(
        "/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
              "code_verifier": VERIFIER},
        auth=(CLIENT.client_id, "not-the-secret"),
    )  # fmt: skip

    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid_client"}
    assert _exchange(provider, code).status_code == 200  # not taken by a stranger's try


def test_the_client_may_send_its_secret_in_the_form(provider: TestClient) -> None:
    code = _code(provider, Role.FILER)

    answer = provider.post(
        "/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
              "code_verifier": VERIFIER, "client_id": CLIENT.client_id,
              "client_secret": CLIENT.secret},
    )  # fmt: skip

    assert answer.status_code == 200


def test_a_code_not_exchanged_in_time_is_refused(
    provider: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dev_oidc, "CODE_TTL_S", -1)  # out of time as soon as it is made
    code = _code(provider, Role.COUNSELLOR)

    assert _exchange(provider, code).json() == {"error": "invalid_grant"}


def test_production_refuses_the_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERGANG_ENVIRONMENT", "production")

    with pytest.raises(RuntimeError, match="never in production"):
        create_app(issuer=ISSUER, issuer_dir=tmp_path, referral_url="http://r.test", client=CLIENT)


def test_the_jwks_is_the_dev_issuers(provider: TestClient, tmp_path: Path) -> None:
    assert provider.get("/jwks").json() == json.loads(jwks_file(tmp_path).read_text())
