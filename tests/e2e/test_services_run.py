"""Each service runs as its own process (`python -m services.<name>`) and becomes ready."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import Servers, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def running(
    servers: Servers, schema_url: str, request: pytest.FixtureRequest
) -> Iterator[tuple[str, str]]:
    name: str = request.param
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", f"services.{name}"],
        env={
            **os.environ,
            "OVERGANG_KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
            "OVERGANG_DATABASE_URL": schema_url,
            "OVERGANG_PORT": str(port),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield name, f"http://127.0.0.1:{port}"
    process.terminate()
    output, _ = process.communicate(timeout=20)
    # Uvicorn shuts down gracefully, then exits by the signal it was sent.
    assert process.returncode in (0, -signal.SIGTERM), output.decode()
    assert b"Application shutdown complete" in output


@pytest.mark.parametrize("running", ["referral", "notifier", "audit"], indirect=True)
def test_a_service_process_becomes_ready_and_stops_cleanly(running: tuple[str, str]) -> None:
    name, url = running
    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline:
        try:
            status = httpx.get(f"{url}/readyz", timeout=2).status_code
        except httpx.TransportError:
            status = None
        if status == 200:
            break
        time.sleep(0.2)
    assert status == 200, f"the {name} service did not become ready"
    openapi = httpx.get(f"{url}/openapi.json").json()
    assert {"/healthz", "/readyz"} <= set(openapi["paths"])
    metrics = httpx.get(f"{url}/metrics/").text
    assert "overgang_outbox_unsent_events" in metrics
    assert "overgang_dead_letters_total" in metrics
