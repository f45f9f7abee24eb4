"""The three Overgang services, each its own process (`python -m services.<name>`)."""

import sys
from pathlib import Path

import httpx

from deploy.local.config import REPOSITORY, SERVICE_PORTS, StackConfig
from deploy.local.dev_issuer import ensure_keys, jwks_file
from deploy.local.processes import require_free_port, spawn, wait_until
from deploy.local.state import ServiceState, StackState


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def launch(config: StackConfig, state: StackState, name: str) -> ServiceState:
    """Start one service against the stack's Kafka and its own database."""
    assert state.kafka is not None, "start Kafka first"
    assert state.postgres is not None, "start PostgreSQL first"
    port = SERVICE_PORTS[name]
    require_free_port(config.host, port, f"the {name} service")
    ensure_keys(config.dev_issuer_dir)
    process = spawn(
        [sys.executable, "-m", f"services.{name}"],
        log_file=_log_file(config, name),
        cwd=REPOSITORY,
        env={
            "OVERGANG_KAFKA_BOOTSTRAP": state.kafka.bootstrap,
            "OVERGANG_DATABASE_URL": state.postgres.databases[name],
            "OVERGANG_HOST": config.host,
            "OVERGANG_PORT": str(port),
            "OVERGANG_AUTH_JWKS": str(jwks_file(config.dev_issuer_dir)),
            # The local stack is for development and its demo people have synthetic numbers;
            # the other services ignore the setting.
            "OVERGANG_ALLOW_SYNTHETIC_IDENTITY_NUMBERS": "true",
            # The notifier delivers to the demo webhook receiver on loopback.
            "OVERGANG_ALLOW_PRIVATE_WEBHOOK_TARGETS": "true",
        },
    )
    return ServiceState(url=f"http://{config.host}:{port}", process=process)


def await_ready(config: StackConfig, name: str, service: ServiceState) -> None:
    wait_until(
        lambda: _ready(service.url),
        process=service.process,
        timeout_s=config.ready_timeout_s,
        what=f"the {name} service on {service.url}",
        log_file=_log_file(config, name),
    )


def _log_file(config: StackConfig, name: str) -> Path:
    return config.log_dir / f"{name}.log"


def ready(service: ServiceState) -> bool:
    return service.process.running() and _ready(service.url)
