"""The demo data that `make up` loads: every referral state is there, and loading it again
creates nothing."""

import stat
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import pytest
from fastapi.testclient import TestClient

from deploy.local import demo
from deploy.local.dev_issuer import jwks_file
from schemas.codes import Role
from services.referral.app import ReferralSettings, create_app
from tests.conftest import NewTopicFactory
from tests.integration.notifier import test_api as notifier_api
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


@pytest.fixture
async def notifier_database_url(servers: Servers) -> AsyncIterator[str]:
    """A schema of its own for the notifier (the referral app has this test's)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(servers.database_url)
    await admin.execute(f'CREATE SCHEMA "{name}"')
    separator = "&" if "?" in servers.database_url else "?"
    yield f"{servers.database_url}{separator}{urlencode({'search_path': name})}"
    await admin.execute(f'DROP SCHEMA "{name}" CASCADE')
    await admin.close()


@pytest.fixture
def notifier_client(
    servers: Servers, notifier_database_url: str, tokens: Tokens, new_topic_name: str
) -> Iterator[TestClient]:
    """The notifier app as the local stack runs it: webhooks to loopback allowed."""
    with notifier_api._app(
        servers,
        notifier_database_url,
        tokens,
        new_topic_name,
        allow_private_webhook_targets=True,
    ) as client:
        yield notifier_api._ready(client)


@pytest.fixture
async def new_topic_name(new_topic: NewTopicFactory) -> str:
    return await new_topic("demo-notifier")


def test_the_demo_subscribes_its_receiver_once_and_hands_it_the_secret(
    synthetic_client: TestClient, notifier_client: TestClient, tokens: Tokens, tmp_path: Path
) -> None:
    webhook = demo.DemoWebhook(
        notifier=notifier_client,
        url="http://127.0.0.1:8010/overgang",
        secret_file=tmp_path / "demo-webhook" / "secret",
        log_file=tmp_path / "webhook-receiver.log",
    )
    first = demo.load(synthetic_client, tokens.directory, webhook=webhook)
    secret = webhook.secret_file.read_text().strip()
    again = demo.load(synthetic_client, tokens.directory, webhook=webhook)

    assert first.webhook is not None
    assert again.webhook == first.webhook
    assert sum(again.created.values()) == 0, again.created
    assert first.created["demo webhook subscription"] == 1
    assert secret.startswith("whsec_")
    assert webhook.secret_file.read_text().strip() == secret
    assert stat.S_IMODE(webhook.secret_file.stat().st_mode) == 0o600
    admin = tokens.headers(first.organisations[demo.WEBHOOK_ORGANISATION], Role.ADMIN)
    [subscription] = notifier_client.get("/v1/subscriptions", headers=admin).json()["items"]
    assert subscription["subscription_id"] == str(first.webhook.subscription_id)
    assert subscription["url"] == webhook.url
    assert "no.overgang.referral.submitted.v1" in subscription["event_types"]
    lines = demo.where_to_look("http://referral", {"webhook-receiver": webhook.url}, first)
    assert f"    watch it: tail -f {webhook.log_file}" in lines
    assert not any("webhook-receiver API docs" in line for line in lines)
