"""The web front without the services and without an identity provider: httpx mocks in their
place. The fake provider does what a county's would (discovery, JWKS, a token endpoint that
checks the client's secret and the PKCE verifier), and can be told to hand out a token that
is wrong in one way."""

import base64
import hashlib
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from services.plumbing.auth import AUDIENCE
from services.web.app import create_app
from services.web.backend import Backend
from services.web.oidc import OidcClient
from services.web.settings import WebSettings

ISSUER = "https://idp.test"
CLIENT_ID = "overgang-web"
CLIENT_SECRET = "the-web-fronts-secret"
REDIRECT_URI = "http://testserver/auth/callback"
NAV = "6f1c2a4e-0000-4000-8000-000000000001"
DIRECTORY = {"items": [{"organisation_id": NAV, "name": "NAV Test"}], "next_cursor": None}


def _key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256"}, auto_kid=True)


class FakeProvider:
    """A county's identity provider, as far as the web front talks to it."""

    def __init__(self) -> None:
        self.key = _key()
        self.signing_key = self.key  # another key: tokens that do not verify
        self.issuer = ISSUER  # what its configuration says
        self.roles = ["auditor"]
        self.id_token_changes: dict[str, Any] = {}
        self.access_token_changes: dict[str, Any] = {}
        self._codes: dict[str, tuple[str, str]] = {}  # code -> (PKCE challenge, nonce)

    def authorize(self, address: str) -> tuple[str, str]:
        """The person signs in at the authorization endpoint: the code and the state that
        the provider sends back to the web front."""
        query = {name: values[0] for name, values in parse_qs(urlsplit(address).query).items()}
        assert address.startswith(f"{ISSUER}/authorize?")
        assert (query["response_type"], query["client_id"]) == ("code", CLIENT_ID)
        assert query["redirect_uri"] == REDIRECT_URI
        assert query["code_challenge_method"] == "S256"
        code = str(uuid.uuid4())
        self._codes[code] = (query["code_challenge"], query["nonce"])
        return code, query["state"]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        match request.url.path:
            case "/.well-known/openid-configuration":
                return httpx.Response(
                    200,
                    json={
                        "issuer": self.issuer,
                        "authorization_endpoint": f"{ISSUER}/authorize",
                        "token_endpoint": f"{ISSUER}/token",
                        "jwks_uri": f"{ISSUER}/jwks",
                    },
                )
            case "/jwks":
                return httpx.Response(200, json={"keys": [self.key.as_dict(private=False)]})
            case "/token":
                return self._token(request)
        return httpx.Response(404)

    def _token(self, request: httpx.Request) -> httpx.Response:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return httpx.Response(401, json={"error": "invalid_client"})
        form = {name: values[0] for name, values in parse_qs(request.content.decode()).items()}
        challenge, nonce = self._codes.pop(form["code"], ("", ""))
        digest = hashlib.sha256(form["code_verifier"].encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
            return httpx.Response(400, json={"error": "invalid_grant"})
        assert form["redirect_uri"] == REDIRECT_URI
        now = int(time.time())
        actor = str(uuid.uuid4())
        access = {"iss": "urn:county:idp", "aud": AUDIENCE, "sub": actor, "org": NAV,
                  "roles": self.roles, "iat": now, "exp": now + 3600}  # fmt: skip
        identity = {"iss": ISSUER, "aud": CLIENT_ID, "sub": actor, "nonce": nonce,
                    "iat": now, "exp": now + 300}  # fmt: skip
        return httpx.Response(
            200,
            json={
                "access_token": self._signed(access | self.access_token_changes),
                "id_token": self._signed(identity | self.id_token_changes),
                "token_type": "Bearer",
            },
        )

    def _signed(self, claims: dict[str, Any]) -> str:
        header = {"alg": "ES256", "kid": self.signing_key.kid}
        return jwt.encode(header, claims, self.signing_key)


def _services(request: httpx.Request) -> httpx.Response:
    """The referral and audit services, as far as these pages ask them."""
    match request.url.path:
        case "/v1/organisations":
            return httpx.Response(200, json=DIRECTORY)
        case "/v1/audit/stats":
            return httpx.Response(200, json=STATISTICS)
        case "/v1/audit/deadlines":
            return httpx.Response(200, json={"items": [], "next_cursor": None})
        case path if path.startswith("/v1/organisations/"):
            return httpx.Response(200, json={"name": "Oppfølgingstenesta"})
    return httpx.Response(404, json={"type": "about:blank", "title": "Not Found", "status": 404})


def _figures(filed: int, share: float | None) -> dict[str, object]:
    return {
        "filed": filed, "accepted": filed, "rejected": 0, "completed": 0,
        "hours_to_decide": {"median": 4.5}, "share_in_time": share,
    }  # fmt: skip


STATISTICS = {
    "groups": [
        {"level": "county", "route": None, "organisation_id": None,
         "figures": _figures(3, 2 / 3), "previous": _figures(1, 1.0)},
        {"level": "route", "route": "follow_up_service->nav_office", "organisation_id": None,
         "figures": _figures(3, 2 / 3), "previous": None},
        {"level": "organisation", "route": None, "organisation_id": NAV,
         "figures": _figures(3, None), "previous": None},
    ]
}  # fmt: skip


def backend() -> Backend:
    """The referral and audit services, mocked."""
    return Backend(
        {"referral": "http://referral.test", "audit": "http://audit.test"},
        transport=httpx.MockTransport(_services),
    )


def settings(**changes: Any) -> WebSettings:
    return WebSettings.model_validate(
        {
            "referral_url": "http://referral.test",
            "audit_url": "http://audit.test",
            "oidc_issuer": ISSUER,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "web_base_url": "http://testserver",
        }
        | changes
    )


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def client(provider: FakeProvider) -> TestClient:
    chosen = settings()
    oidc = OidcClient(
        issuer=chosen.oidc_issuer,
        client_id=chosen.oidc_client_id,
        client_secret=chosen.oidc_client_secret.get_secret_value(),
        redirect_uri=chosen.redirect_uri,
        transport=httpx.MockTransport(provider),
    )
    return TestClient(create_app(chosen, backend=backend(), oidc=oidc))


def sign_in(client: TestClient, provider: FakeProvider) -> httpx.Response:
    """Through the provider: the web front's answer to the callback."""
    code, state = provider.authorize(
        client.get("/sign-in", follow_redirects=False).headers["location"]
    )
    answer: httpx.Response = client.get(
        "/auth/callback", params={"code": code, "state": state}, follow_redirects=False
    )
    return answer
