"""E-mail below the HTTP API: deliveries of e-mail subscriptions go through a real SMTP server
on loopback (aiosmtpd), by the same retry and dead-letter rules as webhooks, each attempt
stored; and what the mail says holds no personal data, even for events about a person whose
name, identity number and notes the referral service holds."""

import datetime as dt
import ipaddress
import json
import re
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from schemas.envelope import CloudEvent
from schemas.registry import parse
from services.notifier.consumers.domain_events import handle
from services.notifier.delivery.email import EmailSender, SmtpSettings
from services.notifier.domain.routing import NOTIFIED_TYPES
from services.plumbing.binding import from_record
from services.plumbing.migrations import migrate, migrations_folder
from tests.integration.notifier.conftest import (
    running_worker,
    submitted,
    subscribe_email,
)
from tests.integration.notifier.smtp import Mailbox, smtp_server
from tests.integration.plumbing.consumer_helpers import eventually
from tests.integration.referral_api import conftest as referral_api
from tests.integration.referral_api.conftest import Tokens, identity_number
from tests.integration.referral_api.county import NOTE, act, make_county
from tests.servers import Servers

pytestmark = pytest.mark.integration

# The referral API tests' fixtures, for the test that makes real events about a person.
client = referral_api.client
tokens = referral_api.tokens

BASE_URL = "https://overgang.example"
ADDRESS = "oppfolging@nav-bergenhus.example"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as running:
        yield running


def email_sender(mailbox: Mailbox, **changes: object) -> EmailSender:
    settings = SmtpSettings(
        host="127.0.0.1",
        port=mailbox.port,
        from_address="varsel@overgang.example",
        base_url=BASE_URL,
        starttls=False,
        timeout_s=5,
    )
    return EmailSender(SmtpSettings(**(settings.__dict__ | changes)))


async def _statuses(pool: asyncpg.Pool) -> list[str]:
    return [row["status"] for row in await pool.fetch("SELECT status FROM deliveries")]


async def _all(pool: asyncpg.Pool, status: str) -> bool:
    found = await _statuses(pool)
    return bool(found) and all(s == status for s in found)


async def _notify_one(pool: asyncpg.Pool, to: uuid.UUID) -> uuid.UUID:
    """A referral.submitted to `to`, consumed; the referral's id."""
    event = submitted(uuid.uuid4(), to)
    async with pool.acquire() as connection, connection.transaction():
        await handle(connection, parse(event), event)
    return uuid.UUID(event.data["referral_id"])


async def test_the_mail_says_what_is_new_and_where_to_look_in_both_languages(
    pool: asyncpg.Pool, mailbox: Mailbox
) -> None:
    to = uuid.uuid4()
    await subscribe_email(pool, to, "Post@NAV-Bergenhus.example")
    referral = await _notify_one(pool, to)

    async with running_worker(pool, also=(email_sender(mailbox),)):
        await eventually(lambda: _all(pool, "delivered"))

    [message] = mailbox.messages
    assert mailbox.envelopes == [("varsel@overgang.example", ["Post@nav-bergenhus.example"])]
    assert message["To"] == "Post@nav-bergenhus.example"
    assert message["Auto-Submitted"] == "auto-generated"
    [row] = await pool.fetch("SELECT delivery_id FROM deliveries")
    assert message["Message-ID"] == f"<{row['delivery_id']}@overgang.example>"
    body = message.get_content()
    assert "En ny henvisning er sendt" in body  # bokmål
    assert "A new referral was filed" in body  # English
    assert f"{BASE_URL}/v1/referrals/{referral}" in body
    assert "henvisning" in message["Subject"].lower()
    # The referral's id is the only id it names.
    assert set(re.findall(r"[0-9a-f]{8}-[0-9a-f-]{27}", body)) == {str(referral)}
    [attempt] = await pool.fetch("SELECT outcome, status_code FROM delivery_attempts")
    assert (attempt["outcome"], attempt["status_code"]) == ("delivered", None)
    [event] = await pool.fetch("SELECT headers->>'ce_type' AS type, value FROM outbox")
    assert event["type"] == "no.overgang.notification.delivered.v1"
    assert b'"channel":"email"' in event["value"].replace(b" ", b"")


async def test_a_server_refusing_for_a_while_gets_the_mail_once_after_three_attempts(
    pool: asyncpg.Pool, mailbox: Mailbox
) -> None:
    to = uuid.uuid4()
    await subscribe_email(pool, to, ADDRESS)
    mailbox.answer("451 4.3.0 try again later", "421 4.3.2 shutting down")
    await _notify_one(pool, to)

    async with running_worker(pool, also=(email_sender(mailbox),)):
        await eventually(lambda: _all(pool, "delivered"))

    assert mailbox.count() == 1
    assert mailbox.refused == 2
    attempts = await pool.fetch(
        "SELECT outcome, failure, error_class FROM delivery_attempts ORDER BY attempt"
    )
    assert [(a["outcome"], a["failure"], a["error_class"]) for a in attempts] == [
        ("failed", "smtp_error", "smtp_451"),
        ("failed", "smtp_error", "smtp_421"),
        ("delivered", None, None),
    ]
    types = [
        row["type"]
        for row in await pool.fetch(
            "SELECT headers->>'ce_type' AS type FROM outbox ORDER BY position"
        )
    ]
    assert types == [
        "no.overgang.notification.failed.v1",
        "no.overgang.notification.failed.v1",
        "no.overgang.notification.delivered.v1",
    ]


async def test_a_server_that_always_refuses_for_now_is_dead_lettered_after_n_attempts(
    pool: asyncpg.Pool, mailbox: Mailbox
) -> None:
    to = uuid.uuid4()
    await subscribe_email(pool, to, ADDRESS)
    mailbox.answer(then="451 4.3.0 try again later")
    await _notify_one(pool, to)

    async with running_worker(pool, also=(email_sender(mailbox),)):
        await eventually(lambda: _all(pool, "dead_lettered"))

    assert mailbox.count() == 0
    assert mailbox.refused == 3  # the policy's N
    [delivery] = await pool.fetch("SELECT attempts, last_failure FROM deliveries")
    assert (delivery["attempts"], delivery["last_failure"]) == (3, "smtp_451")
    last = await pool.fetchval(
        "SELECT headers->>'ce_type' FROM outbox ORDER BY position DESC LIMIT 1"
    )
    assert last == "no.overgang.notification.dead_lettered.v1"


async def test_a_permanent_refusal_is_dead_lettered_at_once(
    pool: asyncpg.Pool, mailbox: Mailbox
) -> None:
    to = uuid.uuid4()
    await subscribe_email(pool, to, ADDRESS)
    mailbox.answer(then="550 5.1.1 no such mailbox")
    await _notify_one(pool, to)

    async with running_worker(pool, also=(email_sender(mailbox),)):
        await eventually(lambda: _all(pool, "dead_lettered"))

    assert mailbox.refused == 1
    assert await pool.fetchval("SELECT error_class FROM delivery_attempts") == "smtp_550"


async def test_a_server_that_is_down_is_retried_and_gets_the_mail_once_it_is_up(
    pool: asyncpg.Pool,
) -> None:
    to = uuid.uuid4()
    await subscribe_email(pool, to, ADDRESS)
    await _notify_one(pool, to)
    with smtp_server() as mailbox:
        sender = email_sender(mailbox)
    # The server is gone now: its port refuses connections.
    async with running_worker(pool, also=(sender,)):
        await eventually(_failed_attempt(pool))
        with smtp_server() as again:
            sender.settings = SmtpSettings(**(sender.settings.__dict__ | {"port": again.port}))
            await eventually(lambda: _all(pool, "delivered"))
            assert again.count() == 1
    failures = await pool.fetch(
        "SELECT failure FROM delivery_attempts WHERE outcome = 'failed' ORDER BY attempt"
    )
    assert {f["failure"] for f in failures} == {"connection_error"}


def _failed_attempt(pool: asyncpg.Pool) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM delivery_attempts"))

    return check


def _self_signed(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


async def test_starttls_is_used_when_configured_and_never_skipped(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    to = uuid.uuid4()
    await subscribe_email(pool, to, ADDRESS)
    await _notify_one(pool, to)
    # A server without STARTTLS: the sender that wants it fails rather than send in clear.
    with smtp_server() as plain:
        async with running_worker(
            pool, also=(email_sender(plain, starttls=True, validate_certs=False),)
        ):
            await eventually(_failed_attempt(pool))
        assert plain.count() == 0
    assert await pool.fetchval("SELECT failure FROM delivery_attempts") == "tls_error"

    # A server that requires STARTTLS (aiosmtpd refuses mail before it) gets the mail.
    with smtp_server(_self_signed(tmp_path)) as secured:
        async with running_worker(
            pool, also=(email_sender(secured, starttls=True, validate_certs=False),)
        ):
            await eventually(lambda: _all(pool, "delivered"))
        assert secured.count() == 1


async def test_the_login_is_given_after_starttls_and_a_wrong_one_is_final(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    to = uuid.uuid4()
    await subscribe_email(pool, to, ADDRESS)
    await _notify_one(pool, to)
    with smtp_server(_self_signed(tmp_path), login=("varsel", "rett passord")) as secured:
        wrong = email_sender(
            secured, starttls=True, validate_certs=False, username="varsel", password="galt"
        )
        async with running_worker(pool, also=(wrong,)):
            await eventually(lambda: _all(pool, "dead_lettered"))
        # 535: authentication failed, which trying again will not change.
        assert await pool.fetchval("SELECT error_class FROM delivery_attempts") == "smtp_535"
        assert secured.count() == 0

    await _notify_one(pool, to)
    with smtp_server(_self_signed(tmp_path), login=("varsel", "rett passord")) as secured:
        right = email_sender(
            secured, starttls=True, validate_certs=False, username="varsel", password="rett passord"
        )
        async with running_worker(pool, also=(right,)):
            await eventually(lambda: _statuses_are(pool, {"dead_lettered", "delivered"}))
        assert secured.count() == 1


async def _statuses_are(pool: asyncpg.Pool, wanted: set[str]) -> bool:
    return set(await _statuses(pool)) == wanted


# --- no personal data, with real events about a real person -------------------------------


@pytest.fixture
async def notifier_pool(servers: Servers) -> AsyncIterator[asyncpg.Pool]:
    """The notifier's tables in a schema of their own (the referral app has this test's)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(servers.database_url)
    await admin.execute(f'CREATE SCHEMA "{name}"')
    separator = "&" if "?" in servers.database_url else "?"
    url = f"{servers.database_url}{separator}{urlencode({'search_path': name})}"
    connection = await asyncpg.connect(url)
    await migrate(connection, migrations_folder("services.notifier"))
    await connection.close()
    pool: asyncpg.Pool = await asyncpg.create_pool(url, min_size=1, max_size=8)
    yield pool
    await pool.close()
    await admin.execute(f'DROP SCHEMA "{name}" CASCADE')
    await admin.close()


NAME = "Ola Testesen Nordmann"
CONTACT_NOTE = "Snakket med Ola om lærlingplass hos Bergen Bil."


def _a_person(client: TestClient, headers: dict[str, str]) -> tuple[str, str]:
    """A person registered with a name: their subject id and identity number."""
    for individual in range(400, 500):
        number = identity_number("150607", f"{individual:03d}")
        if len(number) == 11:
            break
    response = client.post(
        "/v1/subjects",
        json={"identity_number": number, "birth_date": "2007-06-15", "name": NAME},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    subject_id: str = response.json()["subject_id"]
    return subject_id, number


async def _referral_events(database_url: str) -> list[CloudEvent]:
    """The events the referral service wrote to its outbox, as its relay would publish them."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT partition_key, value, headers FROM outbox ORDER BY position"
        )
    finally:
        await connection.close()
    return [
        from_record(
            row["partition_key"].encode(),
            bytes(row["value"]),
            [(name, str(value).encode()) for name, value in json.loads(row["headers"]).items()],
        )
        for row in rows
    ]


async def test_no_mail_names_the_person_or_repeats_their_number_or_the_notes(
    client: TestClient,
    tokens: Tokens,
    database_url: str,
    notifier_pool: asyncpg.Pool,
    mailbox: Mailbox,
) -> None:
    county = make_county(client, tokens)
    subject_id, number = _a_person(client, county.filer())
    referral = client.post(
        "/v1/referrals",
        json=county.filing(subject_id=subject_id, note=NOTE),
        headers=county.filer(),
    ).json()
    referral = act(client, referral, "receive", county.counsellor())
    referral = act(client, referral, "accept", county.counsellor())
    act(
        client,
        referral,
        "contacts",
        county.counsellor(),
        {"method": "phone", "result": "reached", "note": CONTACT_NOTE},
    )
    every_type = tuple(sorted(NOTIFIED_TYPES))
    for organisation in (county.follow_up, county.nav):
        await subscribe_email(notifier_pool, organisation, ADDRESS, every_type)

    events = await _referral_events(database_url)
    async with notifier_pool.acquire() as connection:
        for event in events:
            async with connection.transaction():
                await handle(connection, parse(event), event)
    async with running_worker(notifier_pool, also=(email_sender(mailbox),)):
        await eventually(lambda: _all(notifier_pool, "delivered"))

    # Mail for the person's registration, the filing, and every step after it, to both ends.
    assert mailbox.count() >= 8
    subjects = {m["Subject"] for m in mailbox.messages}
    assert any("A contact was recorded" in s for s in subjects)
    for message in mailbox.messages:
        whole = message.as_string()
        text = message.get_content()
        assert number not in whole
        for part in NAME.split():
            assert part not in whole
        for note in (NOTE, CONTACT_NOTE):
            assert note not in whole
            assert note[:20] not in whole
        assert subject_id not in whole
        assert str(county.follow_up) not in whole
        assert str(county.nav) not in whole
        # At most the referral's id.
        assert set(re.findall(r"[0-9a-f]{8}-[0-9a-f-]{27}", text)) <= {referral["referral_id"]}
