"""The demo data that `make up` loads: every referral state is there, and loading it again
creates nothing."""

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from deploy.local import demo
from deploy.local.dev_issuer import jwks_file
from schemas.codes import Role
from services.referral.app import ReferralSettings, create_app
from tests.integration.referral_api import conftest as referral_api
from tests.integration.referral_api.conftest import Tokens
from tests.servers import Servers

pytestmark = pytest.mark.integration

# The referral API tests' fixtures: this test's own schema and dev token issuer.
database_url = referral_api.database_url
tokens = referral_api.tokens

STATES = {
    "submitted",
    "received",
    "accepted",
    "in_progress",
    "completed",
    "rejected",
    "redirected",
    "withdrawn",
}


@pytest.fixture
def synthetic_client(servers: Servers, database_url: str, tokens: Tokens) -> Iterator[TestClient]:
    """The referral app as the local stack runs it: accepting synthetic identity numbers."""
    settings = ReferralSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        database_url=database_url,
        auth_jwks=str(jwks_file(tokens.directory)),
        allow_synthetic_identity_numbers=True,
    )
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.1)
        yield client


def _sent(client: TestClient, tokens: Tokens, data: demo.DemoData) -> list[str]:
    """Every referral id in the senders' worklists."""
    ids = []
    for name in ("school", "follow_up", "nav_bergenhus"):
        headers = tokens.headers(data.organisations[name], Role.FILER)
        response = client.get("/v1/referrals", params={"box": "sent"}, headers=headers)
        assert response.status_code == 200, response.text
        ids += [item["referral_id"] for item in response.json()["items"]]
    return sorted(ids)


def test_the_demo_has_a_referral_in_every_state_with_contacts_where_work_began(
    synthetic_client: TestClient, tokens: Tokens
) -> None:
    data = demo.load(synthetic_client, tokens.directory)

    assert set(data.statuses()) == STATES
    for demo_referral in demo._referrals():
        assert data.referrals[demo_referral.key]["status"] == demo_referral.expected_status
    in_progress = data.referrals["in-progress"]
    assert len(in_progress["contacts"]) == 2
    assert len(in_progress["follow_ups"]) == 1
    assert in_progress["assigned_counsellor"] is not None
    assert data.referrals["redirected"]["to_organisation_id"] == str(
        data.organisations["career_centre"]
    )
    assert {r["consent_id"] for r in data.referrals.values()} <= {str(c) for c in data.consents}
    assert len(data.consents) == len(data.subjects) == len(demo._PEOPLE)
    assert len(data.organisations) == 5
    assert len(data.agreements) == 3
    assert sum(n for what, n in data.created.items() if what.startswith("organisation ")) == 5
    assert sum(n for what, n in data.created.items() if what.startswith("referral ")) > 9


def test_loading_the_demo_twice_creates_nothing_the_second_time(
    synthetic_client: TestClient, tokens: Tokens
) -> None:
    first = demo.load(synthetic_client, tokens.directory)
    sent = _sent(synthetic_client, tokens, first)

    second = demo.load(synthetic_client, tokens.directory)

    assert sum(second.created.values()) == 0, second.created
    assert second.organisations == first.organisations
    assert second.agreements == first.agreements
    assert second.subjects == first.subjects
    assert second.consents == first.consents
    assert {k: (r["referral_id"], r["version"]) for k, r in second.referrals.items()} == {
        k: (r["referral_id"], r["version"]) for k, r in first.referrals.items()
    }
    assert _sent(synthetic_client, tokens, second) == sent
    assert len(sent) == len(first.referrals)


def test_synthetic_identity_numbers_have_right_check_digits_and_a_shifted_month() -> None:
    from stdnum.no import fodselsnummer

    number = demo.identity_number(demo._PEOPLE[0][1], serial=3)

    assert int(number[2:4]) > 80
    assert number[9] == fodselsnummer.calc_check_digit1(number[:9])
    assert number[10] == fodselsnummer.calc_check_digit2(number[:10])
