"""The web front without the services (an httpx mock in their place): production refuses to
start it, the language switch only ever sends back to a page of this site, and the security
headers are on every page."""

import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from deploy.local.dev_issuer import ensure_keys
from services.web.app import create_app
from services.web.backend import Backend
from services.web.settings import WebSettings

DIRECTORY = {"items": [{"organisation_id": "x", "name": "NAV Test"}], "next_cursor": None}


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    ensure_keys(tmp_path)
    services = Backend(
        {"referral": "http://referral.test", "audit": "http://audit.test"},
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=DIRECTORY)),
    )
    settings = WebSettings(
        referral_url="http://referral.test", audit_url="http://audit.test", dev_issuer_dir=tmp_path
    )
    return TestClient(create_app(settings, backend=services))


def test_production_refuses_the_development_sign_in() -> None:
    with pytest.raises(ValidationError, match="no production sign-in yet"):
        WebSettings(
            environment="production", referral_url="https://r.test", audit_url="https://a.test"
        )


@pytest.mark.parametrize(
    ("back", "expected"),
    [("/referrals/1", "/referrals/1"), ("https://evil.test/", "/"), ("//evil.test/", "/")],
)
def test_the_language_switch_sends_back_to_this_site_only(
    client: TestClient, back: str, expected: str
) -> None:
    page = client.get("/sign-in")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None

    answer = client.post(
        "/language",
        data={"csrf": found.group(1), "language": "en", "back": back},
        follow_redirects=False,
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == expected
    assert 'lang="en"' in client.get("/sign-in").text


def test_every_page_carries_the_security_headers(client: TestClient) -> None:
    page = client.get("/sign-in")

    assert page.status_code == 200
    assert "NAV Test" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["x-content-type-options"] == "nosniff"


def test_a_page_that_needs_a_person_sends_to_the_sign_in(client: TestClient) -> None:
    answer = client.get("/", follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in"
