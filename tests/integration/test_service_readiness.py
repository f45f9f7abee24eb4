"""Each service is ready only when both its database and Kafka answer."""

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from services.audit.app import AuditSettings
from services.audit.app import create_app as create_audit
from services.notifier.app import NotifierSettings
from services.notifier.app import create_app as create_notifier
from services.referral.app import ReferralSettings
from services.referral.app import create_app as create_referral
from tests.servers import Servers, free_port

pytestmark = pytest.mark.integration


def _service_app(name: str, kafka_bootstrap: str, database_url: str) -> FastAPI:
    match name:
        case "referral":
            return create_referral(
                ReferralSettings(kafka_bootstrap=kafka_bootstrap, database_url=database_url)
            )
        case "notifier":
            return create_notifier(
                NotifierSettings(kafka_bootstrap=kafka_bootstrap, database_url=database_url)
            )
        case "audit":
            return create_audit(
                AuditSettings(kafka_bootstrap=kafka_bootstrap, database_url=database_url)
            )
    raise ValueError(name)


def _closed_port() -> str:
    """An address where nothing listens."""
    return f"127.0.0.1:{free_port()}"


def _readiness(app: FastAPI, *, until: dict[str, str], within_s: float = 15) -> Response:
    """Ask /readyz until its checks read `until` (Kafka connects in the background)."""
    with TestClient(app) as client:
        deadline = time.monotonic() + within_s
        while True:
            response: Response = client.get("/readyz")
            if response.json()["checks"] == until or time.monotonic() > deadline:
                return response
            time.sleep(0.2)


@pytest.mark.parametrize("name", ["referral", "notifier", "audit"])
def test_a_service_is_ready_when_its_database_and_kafka_answer(
    servers: Servers, schema_url: str, name: str
) -> None:
    app = _service_app(name, servers.kafka_bootstrap, schema_url)

    response = _readiness(app, until={"database": "ok", "schema": "ok", "kafka": "ok"})

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "schema": "ok", "kafka": "ok"},
    }


def test_a_service_without_kafka_is_alive_but_not_ready(servers: Servers, schema_url: str) -> None:
    settings = ReferralSettings(kafka_bootstrap=_closed_port(), database_url=schema_url)
    app = create_referral(settings)

    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
    # Give it time to try: Kafka stays unreachable, the database answers.
    response = _readiness(app, until={"database": "ok", "schema": "ok", "kafka": "ok"}, within_s=4)

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["checks"] == {"database": "ok", "schema": "ok", "kafka": "unavailable"}
    assert response.json()["detail"] == "not ready: kafka does not answer"
    assert response.headers["retry-after"] == "5"


def test_a_service_without_its_database_is_not_ready(servers: Servers) -> None:
    host, port = _closed_port().split(":")
    settings = ReferralSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        database_url=f"postgresql://nobody@{host}:{port}/nothing",
    )

    response = _readiness(
        create_referral(settings),
        until={"database": "unavailable", "schema": "unavailable", "kafka": "ok"},
    )

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "unavailable",
        "schema": "unavailable",
        "kafka": "ok",
    }
