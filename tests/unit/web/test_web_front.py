"""The web front without the services (httpx mocks in their place): the language switch only
ever sends back to a page of this site, the security headers are on every page, and the
statistics page charts what the audit service answers."""

import re

import pytest
from fastapi.testclient import TestClient

from tests.unit.web.conftest import FakeProvider, sign_in


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize(
    ("back", "expected"),
    [("/referrals/1", "/referrals/1"), ("https://evil.test/", "/"), ("//evil.test/", "/")],
)
def test_the_language_switch_sends_back_to_this_site_only(
    client: TestClient, back: str, expected: str
) -> None:
    csrf = _csrf(client.get("/signed-out").text)

    answer = client.post(
        "/language",
        data={"csrf": csrf, "language": "en", "back": back},
        follow_redirects=False,
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == expected
    assert 'lang="en"' in client.get("/signed-out").text


def test_every_page_carries_the_security_headers(client: TestClient) -> None:
    page = client.get("/signed-out")

    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["x-content-type-options"] == "nosniff"


def test_a_page_that_needs_a_person_sends_to_the_sign_in(client: TestClient) -> None:
    answer = client.get("/", follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in"


def test_the_statistics_page_charts_the_figures_and_tabulates_them(
    client: TestClient, provider: FakeProvider
) -> None:
    provider.roles = ["auditor"]
    assert sign_in(client, provider).status_code == 303

    page = client.get("/audit/statistics?from=2026-01-01&to=2026-06-30").text

    assert page.count('<svg class="chart"') == 2  # filed, and share in time
    assert "Oppfølgingstjenesten → NAV-kontor" in page
    assert "67 %" in page  # the county's share, in the chart and the table
    assert "100 %" in page  # the previous period's
    assert "NAV Test" in page
