"""The demo webhook receiver that `make up` starts, as a process of its own: the notifier's
own sender delivers to it; it verifies with the standardwebhooks library and the secret in
its file, and logs one line per delivery (and none of the event's data but type and ids)."""

import asyncio
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from deploy.local.config import REPOSITORY
from services.notifier.delivery.webhooks import SenderSettings, WebhookSender
from services.notifier.usecases.notify import structured_body
from tests.integration.notifier.conftest import submitted

pytestmark = pytest.mark.integration

SECRET = "whsec_" + "ZGVtby1yZWNlaXZlci1zZWNyZXQtMzItYnl0ZXMhIQ=="


@dataclass
class DemoReceiver:
    url: str
    secret_file: Path
    log_file: Path

    def lines(self) -> list[str]:
        return self.log_file.read_text().splitlines()[1:]  # after the start-up line


@pytest.fixture
def demo_receiver(tmp_path: Path) -> Iterator[DemoReceiver]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret_file, log_file = tmp_path / "secret", tmp_path / "receiver.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deploy.local.webhook_receiver",
                "--port",
                str(port),
                "--secret-file",
                str(secret_file),
            ],
            cwd=REPOSITORY,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/overgang"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            assert process.poll() is None, log_file.read_text()
            assert time.monotonic() < deadline, "the demo receiver did not start"
            time.sleep(0.05)
    try:
        yield DemoReceiver(url, secret_file, log_file)
    finally:
        process.terminate()
        assert process.wait(10) is not None


async def _deliver(url: str, secret: str, body: str, webhook_id: str) -> int | None:
    sender = WebhookSender(SenderSettings(production=False, allow_private=True, timeout_s=5))
    try:
        result = await sender.send(url=url, secret=secret, webhook_id=webhook_id, body=body)
    finally:
        await sender.close()
    return result.status_code


def test_the_demo_receiver_verifies_each_delivery_and_logs_one_line(
    demo_receiver: DemoReceiver,
) -> None:
    event = submitted(uuid.uuid4(), uuid.uuid4())
    body = structured_body(event)
    first, second, third = (str(uuid.uuid4()) for _ in range(3))

    # Before the demo load has written the secret: "not yet", which the notifier retries.
    assert asyncio.run(_deliver(demo_receiver.url, SECRET, body, first)) == 503
    demo_receiver.secret_file.write_text(SECRET + "\n")
    assert asyncio.run(_deliver(demo_receiver.url, SECRET, body, second)) == 204
    wrong = "whsec_" + "QUJD" * 8
    assert asyncio.run(_deliver(demo_receiver.url, wrong, body, third)) == 401

    not_yet, verified, refused = demo_receiver.lines()
    assert " 503 not yet" in not_yet
    assert first in not_yet
    assert " 204 verified" in verified
    assert f"webhook-id={second}" in verified
    assert f"type={event.type}" in verified
    assert f"event={event.id}" in verified
    assert f"referral={event.data['referral_id']}" in verified
    assert str(event.data["subject_id"]) not in verified  # type and ids of the referral only
    assert " 401 refused" in refused
    assert third in refused


def test_a_delivery_sent_again_is_answered_but_marked_as_handled_already(
    demo_receiver: DemoReceiver,
) -> None:
    demo_receiver.secret_file.write_text(SECRET + "\n")
    body = structured_body(submitted(uuid.uuid4(), uuid.uuid4()))
    webhook_id, other = str(uuid.uuid4()), str(uuid.uuid4())

    statuses = [
        asyncio.run(_deliver(demo_receiver.url, SECRET, body, each))
        for each in (webhook_id, webhook_id, other)
    ]

    assert statuses == [204, 204, 204]
    first, again, new = demo_receiver.lines()
    assert f" 204 verified webhook-id={webhook_id} " in first
    assert f" 204 verified again webhook-id={webhook_id} " in again
    assert f" 204 verified webhook-id={other} " in new
