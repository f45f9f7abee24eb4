"""The in-app inbox and e-mail subscriptions through the HTTP API, on the whole service (its
consumers reading a real topic): every organisation an event is routed to finds it in its
inbox, subscriptions or not; nobody else does."""

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from schemas.codes import Role
from schemas.envelope import CloudEvent
from services.plumbing.binding import to_record
from services.plumbing.pagination import encode_cursor
from tests.integration.notifier import test_api
from tests.integration.notifier.conftest import submitted
from tests.integration.notifier.smtp import Mailbox, smtp_server
from tests.integration.plumbing.consumer_helpers import publish
from tests.integration.referral_api.conftest import PROBLEM_JSON, Tokens
from tests.servers import Servers

pytestmark = pytest.mark.integration

# The API tests' fixtures: this test's dev issuer, a topic of its own, the app on it.
tokens = test_api.tokens
notifier_topic = test_api.notifier_topic
client = test_api.client


def _publish(servers: Servers, topic: str, events: list[CloudEvent]) -> None:
    asyncio.run(publish(servers, topic, [to_record(event) for event in events]))


def _inbox(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    response = client.get("/v1/inbox", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _wait_for(client: TestClient, headers: dict[str, str], count: int) -> Any:
    deadline = time.monotonic() + 60
    while True:
        found = _inbox(client, headers, limit=200)
        if len(found["items"]) >= count:
            return found
        assert time.monotonic() < deadline, f"{len(found['items'])} of {count} in the inbox"
        time.sleep(0.1)


def test_each_party_finds_the_event_in_its_inbox_and_nobody_else_does(
    client: TestClient, tokens: Tokens, servers: Servers, notifier_topic: str
) -> None:
    sender, receiver, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    event = submitted(sender, receiver)
    _publish(servers, notifier_topic, [event])

    # No subscriptions anywhere: the inbox is filled all the same. Any role may read it.
    mine = _wait_for(client, tokens.headers(receiver, Role.COUNSELLOR), 1)
    [item] = mine["items"]
    assert item["event_id"] == str(event.id)
    assert item["event_type"] == event.type
    assert item["referral_id"] == event.data["referral_id"]
    assert item["summary_nb"] == "En ny henvisning er sendt"
    assert item["summary_en"] == "A new referral was filed"
    assert item["read"] is False
    assert mine["unread"] == 1
    assert set(item) == {
        "notification_id",
        "event_id",
        "event_type",
        "summary_nb",
        "summary_en",
        "referral_id",
        "occurred_at",
        "received_at",
        "read",
        "read_at",
    }
    assert len(_wait_for(client, tokens.headers(sender, Role.FILER), 1)["items"]) == 1
    assert _inbox(client, tokens.headers(stranger, Role.ADMIN)) == {
        "items": [],
        "unread": 0,
        "next_cursor": None,
    }
    # Someone of another organisation cannot mark it read: it does not exist for them.
    refused = client.post(
        f"/v1/inbox/{item['notification_id']}/read", headers=tokens.headers(stranger, Role.ADMIN)
    )
    assert refused.status_code == 404
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert client.get("/v1/inbox").status_code == 401


def test_marking_read_is_once_and_the_unread_filter_follows_it(
    client: TestClient, tokens: Tokens, servers: Servers, notifier_topic: str
) -> None:
    organisation = uuid.uuid4()
    _publish(servers, notifier_topic, [submitted(uuid.uuid4(), organisation) for _ in range(3)])
    counsellor = tokens.headers(organisation, Role.COUNSELLOR)
    items = _wait_for(client, counsellor, 3)["items"]

    first = client.post(f"/v1/inbox/{items[1]['notification_id']}/read", headers=counsellor)
    assert first.status_code == 200, first.text
    assert first.json()["read"] is True
    read_at = first.json()["read_at"]
    again = client.post(
        f"/v1/inbox/{items[1]['notification_id']}/read",
        headers=tokens.headers(organisation, Role.AUDITOR),
    )
    assert again.status_code == 200
    assert again.json()["read_at"] == read_at  # the first reading stands

    unread = _inbox(client, counsellor, unread="true")
    assert unread["unread"] == 2
    assert [i["notification_id"] for i in unread["items"]] == [
        items[0]["notification_id"],
        items[2]["notification_id"],
    ]
    # Unread first, then read; each part newest first.
    everything = _inbox(client, counsellor)["items"]
    assert [i["notification_id"] for i in everything] == [
        items[0]["notification_id"],
        items[2]["notification_id"],
        items[1]["notification_id"],
    ]
    assert [i["read"] for i in everything] == [False, False, True]
    assert client.post(f"/v1/inbox/{uuid.uuid4()}/read", headers=counsellor).status_code == 404


def test_pages_go_unread_first_then_newest_first_without_gaps_or_repeats(
    client: TestClient, tokens: Tokens, servers: Servers, notifier_topic: str
) -> None:
    organisation = uuid.uuid4()
    _publish(servers, notifier_topic, [submitted(uuid.uuid4(), organisation) for _ in range(5)])
    headers = tokens.headers(organisation, Role.FILER)
    newest_first = _wait_for(client, headers, 5)["items"]
    received = [item["received_at"] for item in newest_first]
    assert received == sorted(received, reverse=True)
    # The newest and the third are read: the pages cross from the unread part to the read.
    for item in (newest_first[0], newest_first[2]):
        marked = client.post(f"/v1/inbox/{item['notification_id']}/read", headers=headers)
        assert marked.status_code == 200, marked.text
    whole = _inbox(client, headers)["items"]
    assert [item["read"] for item in whole] == [False, False, False, True, True]
    for part in (whole[:3], whole[3:]):
        times = [item["received_at"] for item in part]
        assert times == sorted(times, reverse=True)

    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = _inbox(client, headers, **params)
        pages.append([item["notification_id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [n for p in pages for n in p] == [item["notification_id"] for item in whole]


BAD_CURSORS = [
    "not-a-cursor",
    encode_cursor("x"),
    encode_cursor("x", "y"),
    # Three parts, but "seen" is neither "read" nor "unread".
    encode_cursor("seen", "2026-01-01T00:00:00+00:00", str(uuid.UUID(int=0))),
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_a_bad_cursor_is_a_422_problem(client: TestClient, tokens: Tokens, cursor: str) -> None:
    response = client.get(
        "/v1/inbox", params={"cursor": cursor}, headers=tokens.headers(uuid.uuid4(), Role.FILER)
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == "https://overgang.no/problems/invalid-cursor"
    assert problem["errors"][0]["field"] == "cursor"


# --- e-mail subscriptions through the API --------------------------------------------------


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def email_client(
    servers: Servers, database_url: str, tokens: Tokens, notifier_topic: str, mailbox: Mailbox
) -> Iterator[TestClient]:
    """The service with an SMTP server (plain, on loopback)."""
    with test_api._app(
        servers,
        database_url,
        tokens,
        notifier_topic,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_starttls=False,
        web_base_url="https://overgang.example",
    ) as client:
        yield test_api._ready(client)


def test_an_email_subscription_gets_mail_and_shows_its_address(
    email_client: TestClient,
    tokens: Tokens,
    servers: Servers,
    notifier_topic: str,
    mailbox: Mailbox,
) -> None:
    organisation = uuid.uuid4()
    admin = tokens.headers(organisation, Role.ADMIN)
    created = email_client.post(
        "/v1/subscriptions",
        json={
            "kind": "email",
            "address": "oppfolging@nav.example",
            "event_types": test_api.TYPES,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["secret"] is None
    assert created.json()["address"] == "oppfolging@nav.example"
    assert created.json()["url"] is None
    event = submitted(uuid.uuid4(), organisation)
    _publish(servers, notifier_topic, [event])

    delivered = test_api._wait(email_client, admin, "delivered")
    assert delivered["channel"] == "email"
    [message] = mailbox.messages
    assert f"https://overgang.example/v1/referrals/{event.data['referral_id']}" in (
        message.get_content()
    )


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("no-at-sign", "malformed"),
        ("two words@nav.example", "local_part"),
        ("post@localhost", "domain"),
        ("post@nav.example\r\nBcc: everyone@example.org", "local_part"),
        ("post@[127.0.0.1]", "domain"),
    ],
)
def test_an_address_that_is_not_a_plain_mailbox_is_refused(
    email_client: TestClient, tokens: Tokens, address: str, code: str
) -> None:
    refused = email_client.post(
        "/v1/subscriptions",
        json={"kind": "email", "address": address, "event_types": test_api.TYPES},
        headers=tokens.headers(uuid.uuid4(), Role.ADMIN),
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"] == "https://overgang.no/problems/invalid-email-address"
    assert problem["errors"][0]["field"] == "address"
    assert problem["errors"][0]["type"] == code
    assert address not in refused.text  # an address may name a person: never echoed


def test_email_is_refused_when_the_service_has_no_smtp_server(
    client: TestClient, tokens: Tokens
) -> None:
    refused = client.post(
        "/v1/subscriptions",
        json={"kind": "email", "address": "post@nav.example", "event_types": test_api.TYPES},
        headers=tokens.headers(uuid.uuid4(), Role.ADMIN),
    )
    assert refused.status_code == 422
    assert refused.json()["type"] == "https://overgang.no/problems/email-not-configured"
    # A webhook's fields on an e-mail subscription are unknown fields.
    mixed = client.post(
        "/v1/subscriptions",
        json={
            "kind": "email",
            "address": "post@nav.example",
            "url": "http://127.0.0.1:9/x",
            "event_types": test_api.TYPES,
        },
        headers=tokens.headers(uuid.uuid4(), Role.ADMIN),
    )
    assert mixed.status_code == 422
