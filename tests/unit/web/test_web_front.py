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

NAV = "6f1c2a4e-0000-4000-8000-000000000001"
DIRECTORY = {"items": [{"organisation_id": NAV, "name": "NAV Test"}], "next_cursor": None}


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


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    ensure_keys(tmp_path)
    services = Backend(
        {"referral": "http://referral.test", "audit": "http://audit.test"},
        transport=httpx.MockTransport(_services),
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


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_the_statistics_page_charts_the_figures_and_tabulates_them(client: TestClient) -> None:
    csrf = _csrf(client.get("/sign-in").text)
    signed_in = client.post(
        "/sign-in", data={"csrf": csrf, "organisation_id": NAV, "role": "auditor"}
    )
    assert signed_in.status_code == 200  # followed to the auditor's home

    page = client.get("/audit/statistics?from=2026-01-01&to=2026-06-30").text

    assert page.count('<svg class="chart"') == 2  # filed, and share in time
    assert "Oppfølgingstjenesten → NAV-kontor" in page
    assert "67 %" in page  # the county's share, in the chart and the table
    assert "100 %" in page  # the previous period's
    assert "NAV Test" in page
