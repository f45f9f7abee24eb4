"""The notifier's HTTP API on the whole service (its migrations, consumers and delivery
worker running): subscriptions per organisation, outbound safety, deliveries and the retry
by hand of a dead-lettered one."""

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook

from deploy.local.dev_issuer import ensure_keys, jwks_file
from schemas.codes import Role
from schemas.referrals import ReferralSubmittedV1
from services.notifier.app import NotifierSettings, create_app
from services.plumbing.binding import to_record
from tests.conftest import NewTopicFactory
from tests.integration.notifier.conftest import submitted
from tests.integration.notifier.receiver import Receiver
from tests.integration.plumbing.consumer_helpers import publish
from tests.integration.referral_api.conftest import PROBLEM_JSON, Tokens
from tests.servers import Servers

pytestmark = pytest.mark.integration

TYPES = [ReferralSubmittedV1.ce_type]


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    directory = tmp_path / "dev-issuer"
    ensure_keys(directory)
    return Tokens(directory)


def _app(
    servers: Servers, database_url: str, tokens: Tokens, topic: str, **changes: Any
) -> TestClient:
    settings = NotifierSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        database_url=database_url,
        auth_jwks=str(jwks_file(tokens.directory)),
        notified_topics=[topic],
        retry_base_delay_s=0.05,
        retry_max_delay_s=0.2,
        max_delivery_attempts=3,
        delivery_poll_s=0.05,
        **changes,
    )
    return TestClient(create_app(settings))


def _ready(client: TestClient) -> TestClient:
    deadline = time.monotonic() + 30
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.1)
    return client


@pytest.fixture
async def notifier_topic(new_topic: NewTopicFactory) -> str:
    return await new_topic("notifier")


@pytest.fixture
def client(
    servers: Servers, database_url: str, tokens: Tokens, notifier_topic: str
) -> Iterator[TestClient]:
    with _app(
        servers, database_url, tokens, notifier_topic, allow_private_webhook_targets=True
    ) as client:
        yield _ready(client)


def _subscribe(
    client: TestClient,
    tokens: Tokens,
    organisation: uuid.UUID,
    url: str,
    *,
    actor: uuid.UUID | None = None,
    **headers: str,
) -> Any:
    return client.post(
        "/v1/subscriptions",
        json={"url": url, "event_types": TYPES},
        headers=tokens.headers(organisation, Role.ADMIN, actor=actor) | headers,
    )


def test_a_subscription_shows_its_secret_once_and_only_to_its_organisation(
    client: TestClient, tokens: Tokens, receiver: Receiver
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    created = _subscribe(client, tokens, mine, receiver.url("a"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    Webhook(body["secret"])  # a secret the library takes
    location = created.headers["Location"]
    admin = tokens.headers(mine, Role.ADMIN)

    read = client.get(location, headers=admin)
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert read.json()["event_types"] == TYPES
    listed = client.get("/v1/subscriptions", headers=admin).json()
    assert [item["subscription_id"] for item in listed["items"]] == [body["subscription_id"]]
    assert all("secret" not in item for item in listed["items"])

    other = tokens.headers(theirs, Role.ADMIN)
    assert client.get(location, headers=other).status_code == 404
    assert client.post(f"{location}/pause", headers=other).status_code == 404
    assert client.delete(location, headers=other).status_code == 404
    assert client.get("/v1/subscriptions", headers=other).json()["items"] == []
    counsellor = tokens.headers(mine, Role.COUNSELLOR)
    assert client.get(location, headers=counsellor).status_code == 403

    assert client.post(f"{location}/pause", headers=admin).json()["paused"] is True
    assert client.post(f"{location}/resume", headers=admin).json()["paused"] is False
    assert client.delete(location, headers=admin).status_code == 204
    gone = client.get(location, headers=admin)
    assert gone.status_code == 404
    assert gone.headers["content-type"] == PROBLEM_JSON


def test_a_replay_by_idempotency_key_answers_the_same_subscription(
    client: TestClient, tokens: Tokens, receiver: Receiver
) -> None:
    organisation, actor = uuid.uuid4(), uuid.uuid4()
    key = {"Idempotency-Key": "k1"}
    first = _subscribe(client, tokens, organisation, receiver.url("b"), actor=actor, **key)
    again = _subscribe(client, tokens, organisation, receiver.url("b"), actor=actor, **key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = _subscribe(client, tokens, organisation, receiver.url("c"), actor=actor, **key)
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")
    listed = client.get("/v1/subscriptions", headers=tokens.headers(organisation, Role.ADMIN))
    assert len(listed.json()["items"]) == 1


def test_event_types_that_are_not_notified_are_refused(
    client: TestClient, tokens: Tokens, receiver: Receiver
) -> None:
    refused = client.post(
        "/v1/subscriptions",
        json={"url": receiver.url("x"), "event_types": ["no.overgang.notification.delivered.v1"]},
        headers=tokens.headers(uuid.uuid4(), Role.ADMIN),
    )
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/unknown-event-type")


def test_a_url_pointing_at_a_private_address_is_refused_when_not_allowed(
    servers: Servers, database_url: str, tokens: Tokens, notifier_topic: str
) -> None:
    with _app(servers, database_url, tokens, notifier_topic) as client:
        for url in (
            "http://127.0.0.1:9/hook",
            "http://10.0.0.8/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost:9/hook",
        ):
            refused = _subscribe(client, tokens, uuid.uuid4(), url)
            assert refused.status_code == 422, url
            problem = refused.json()
            assert problem["type"] == "https://overgang.no/problems/unsafe-webhook-target"
            assert problem["errors"][0]["field"] == "url"


def test_an_event_is_delivered_dead_lettered_and_retried_by_hand_through_the_api(
    client: TestClient,
    tokens: Tokens,
    receiver: Receiver,
    servers: Servers,
    notifier_topic: str,
) -> None:
    organisation = uuid.uuid4()
    admin = tokens.headers(organisation, Role.ADMIN)
    secret = _subscribe(client, tokens, organisation, receiver.url("api")).json()["secret"]
    receiver.answer("api", then=500)
    event = submitted(uuid.uuid4(), organisation)
    asyncio.run(publish(servers, notifier_topic, [to_record(event)]))

    dead = _wait(client, admin, "dead_lettered")
    assert dead["attempts"] == 3
    assert dead["event_id"] == str(event.id)
    detail = client.get(f"/v1/deliveries/{dead['delivery_id']}", headers=admin).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 500, 500]
    other = tokens.headers(uuid.uuid4(), Role.ADMIN)
    assert (
        client.post(f"/v1/deliveries/{dead['delivery_id']}/retry", headers=other).status_code == 404
    )

    receiver.answer("api", then=204)
    retried = client.post(f"/v1/deliveries/{dead['delivery_id']}/retry", headers=admin)
    assert retried.status_code == 202
    delivered = _wait(client, admin, "delivered")
    assert delivered["attempts"] == 4
    again = client.post(f"/v1/deliveries/{dead['delivery_id']}/retry", headers=admin)
    assert again.status_code == 409
    assert again.json()["current_status"] == "delivered"
    last = receiver.requests("api")[-1]
    assert Webhook(secret).verify(last.body, last.headers)["id"] == str(event.id)
    assert last.headers["webhook-id"] == dead["delivery_id"]


def _wait(client: TestClient, headers: dict[str, str], status: str) -> Any:
    deadline = time.monotonic() + 60
    while True:
        items = client.get(f"/v1/deliveries?status={status}", headers=headers).json()["items"]
        if items:
            return items[0]
        assert time.monotonic() < deadline, f"no delivery became {status}"
        time.sleep(0.1)
