"""Signing in through the OIDC provider (a fake one: tests/unit/web/conftest.py): the web
front sends the person there with state, nonce and a PKCE challenge, and takes them back only
with this browser's state and tokens that verify, for this client, with this sign-in's nonce;
sign-out ends the session; production needs https and its own session key."""

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey
from pydantic import ValidationError

from services.web.app import create_app
from services.web.oidc import OidcClient
from tests.unit.web.conftest import (
    CLIENT_ID,
    ISSUER,
    REDIRECT_URI,
    FakeProvider,
    backend,
    settings,
    sign_in,
)


def _signed_in(client: TestClient) -> bool:
    return bool(client.get("/", follow_redirects=False).headers.get("location") != "/sign-in")


def test_sign_in_sends_the_person_to_the_provider_with_state_nonce_and_pkce(
    client: TestClient,
) -> None:
    answer = client.get("/sign-in", follow_redirects=False)

    assert answer.status_code == 303
    address = urlsplit(answer.headers["location"])
    assert f"{address.scheme}://{address.netloc}{address.path}" == f"{ISSUER}/authorize"
    query = {name: values[0] for name, values in parse_qs(address.query).items()}
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["scope"] == "openid"
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32
    assert len(query["nonce"]) >= 32
    assert len(query["code_challenge"]) == 43  # a SHA-256, base64url
    # A second sign-in starts afresh.
    again = parse_qs(
        urlsplit(client.get("/sign-in", follow_redirects=False).headers["location"]).query
    )
    assert again["state"][0] != query["state"]


def test_a_person_signs_in_and_the_pages_show_who_from_the_tokens(
    client: TestClient, provider: FakeProvider
) -> None:
    provider.roles = ["auditor", "admin"]

    answer = sign_in(client, provider)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    page = client.get("/audit/deadlines").text
    assert "Oppfølgingstenesta" in page  # the organisation's name, from the directory
    assert "Revisor" in page
    assert "Administrator" in page


@pytest.mark.parametrize("state", ["not-the-state", ""])
def test_a_callback_with_another_state_is_refused(
    client: TestClient, provider: FakeProvider, state: str
) -> None:
    code, _ = provider.authorize(client.get("/sign-in", follow_redirects=False).headers["location"])

    answer = client.get("/auth/callback", params={"code": code, "state": state})

    assert answer.status_code == 400
    assert "Innloggingen kunne ikke fullføres" in answer.text
    assert not _signed_in(client)


def test_a_callback_without_a_state_or_a_sign_in_under_way_is_refused(
    client: TestClient, provider: FakeProvider
) -> None:
    code, state = provider.authorize(
        client.get("/sign-in", follow_redirects=False).headers["location"]
    )
    assert client.get("/auth/callback", params={"code": code}).status_code == 400
    # The first callback ended the sign-in under way: its state is no good any more either.
    assert client.get("/auth/callback", params={"code": code, "state": state}).status_code == 400
    assert not _signed_in(client)


def test_a_callback_answered_once_is_not_answered_again(
    client: TestClient, provider: FakeProvider
) -> None:
    code, state = provider.authorize(
        client.get("/sign-in", follow_redirects=False).headers["location"]
    )
    assert client.get("/auth/callback", params={"code": code, "state": state},
                      follow_redirects=False).status_code == 303  # fmt: skip
    client.post("/sign-out", data={"csrf": _csrf(client)})

    again = client.get("/auth/callback", params={"code": code, "state": state})

    assert again.status_code == 400
    assert not _signed_in(client)


def test_the_providers_refusal_is_a_failed_sign_in(
    client: TestClient, provider: FakeProvider
) -> None:
    _, state = provider.authorize(
        client.get("/sign-in", follow_redirects=False).headers["location"]
    )

    answer = client.get("/auth/callback", params={"error": "access_denied", "state": state})

    assert answer.status_code == 400
    assert not _signed_in(client)


@pytest.mark.parametrize(
    "changes",
    [
        {"nonce": "another-sign-ins-nonce"},
        {"aud": "another-client"},
        {"iss": "https://another-idp.test"},
        {"exp": 1_000_000_000},
        {"sub": str(uuid.uuid4())},  # not the access token's person
    ],
    ids=["nonce", "audience", "issuer", "expired", "subject"],
)
def test_an_id_token_that_is_not_for_this_sign_in_is_refused(
    client: TestClient, provider: FakeProvider, changes: dict[str, object]
) -> None:
    provider.id_token_changes = changes

    answer = sign_in(client, provider)

    assert answer.status_code == 400
    assert not _signed_in(client)


def test_a_token_signed_with_another_key_is_refused(
    client: TestClient, provider: FakeProvider
) -> None:
    provider.signing_key = ECKey.generate_key("P-256", parameters={"alg": "ES256"}, auto_kid=True)

    assert sign_in(client, provider).status_code == 400
    assert not _signed_in(client)


@pytest.mark.parametrize("changes", [{"org": "not-a-uuid"}, {"roles": ["king"]}])
def test_an_access_token_that_does_not_say_who_is_refused(
    client: TestClient, provider: FakeProvider, changes: dict[str, object]
) -> None:
    provider.access_token_changes = changes

    assert sign_in(client, provider).status_code == 400
    assert not _signed_in(client)


def test_a_provider_that_names_another_issuer_is_not_used(
    client: TestClient, provider: FakeProvider
) -> None:
    provider.issuer = "https://impostor.test"

    answer = client.get("/sign-in", follow_redirects=False)

    assert answer.status_code == 503


def test_an_issuer_with_a_trailing_slash_is_taken_as_it_is(provider: FakeProvider) -> None:
    provider.issuer = f"{ISSUER}/"
    provider.id_token_changes = {"iss": f"{ISSUER}/"}
    chosen = settings(oidc_issuer=f"{ISSUER}/")
    oidc = OidcClient(
        issuer=chosen.oidc_issuer,
        client_id=CLIENT_ID,
        client_secret=chosen.oidc_client_secret.get_secret_value(),
        redirect_uri=REDIRECT_URI,
        transport=httpx.MockTransport(provider),
    )
    client = TestClient(create_app(chosen, backend=backend(), oidc=oidc))

    assert sign_in(client, provider).headers["location"] == "/"
    assert _signed_in(client)


def _csrf(client: TestClient) -> str:
    page = client.get("/audit/deadlines").text
    return str(page.split('name="csrf" value="', 1)[1].split('"', 1)[0])


def test_sign_out_ends_the_session(client: TestClient, provider: FakeProvider) -> None:
    sign_in(client, provider)
    assert _signed_in(client)

    answer = client.post("/sign-out", data={"csrf": _csrf(client)}, follow_redirects=False)

    assert answer.headers["location"] == "/signed-out"
    assert not _signed_in(client)


def test_sign_out_needs_the_sessions_csrf_token(client: TestClient, provider: FakeProvider) -> None:
    sign_in(client, provider)

    assert client.post("/sign-out", data={"csrf": "forged"}).status_code == 403
    assert _signed_in(client)


PRODUCTION = {
    "environment": "production",
    "referral_url": "https://referral.test",
    "audit_url": "https://audit.test",
    "oidc_issuer": "https://idp.county.test",
    "web_base_url": "https://overgang.county.test",
    "session_key": "k" * 32,
}


def test_production_signs_in_with_https_and_its_own_session_key() -> None:
    chosen = settings(**PRODUCTION)

    assert chosen.redirect_uri == "https://overgang.county.test/auth/callback"


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"session_key": None}, "OVERGANG_SESSION_KEY must be set"),
        ({"session_key": "short"}, "at least 32 characters"),
        ({"oidc_issuer": "http://idp.county.test"}, "OVERGANG_OIDC_ISSUER must be an https"),
        ({"web_base_url": None}, "OVERGANG_WEB_BASE_URL must be an https"),
        ({"web_base_url": "http://overgang.test"}, "OVERGANG_WEB_BASE_URL must be an https"),
        ({"oidc_discovery_url": "http://idp.test/d"}, "OVERGANG_OIDC_DISCOVERY_URL must be"),
        ({"oidc_client_secret": ""}, "OVERGANG_OIDC_CLIENT_SECRET must be set"),
    ],
)
def test_production_refuses_what_is_not_safe(changes: dict[str, object], said: str) -> None:
    chosen = {name: value for name, value in (PRODUCTION | changes).items() if value is not None}

    with pytest.raises(ValidationError, match=said):
        settings(**chosen)


def test_the_session_cookie_is_secure_in_production(provider: FakeProvider) -> None:
    chosen = settings(**PRODUCTION)
    oidc = OidcClient(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        client_secret="the-web-fronts-secret",
        redirect_uri=REDIRECT_URI,
        transport=httpx.MockTransport(provider),
    )
    client = TestClient(create_app(chosen, oidc=oidc), base_url="https://testserver")

    cookie = client.get("/sign-in", follow_redirects=False).headers["set-cookie"].lower()

    assert "overgang_session=" in cookie
    assert "; secure" in cookie
    assert "; httponly" in cookie
    assert "samesite=lax" in cookie
