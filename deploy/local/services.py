"""The three Overgang services, each its own process (`python -m services.<name>`), beside
the notifier the demo webhook receiver (`python -m deploy.local.webhook_receiver`), and on top
of them the web front (`python -m services.web`), which signs people in through the dev OIDC
provider (`python -m deploy.local.dev_oidc`)."""

import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from deploy.local.config import REPOSITORY, StackConfig
from deploy.local.demo import DemoWebhook
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
    port = config.service_port(name)
    require_free_port(config.host, port, f"the {name} service")
    ensure_keys(config.dev_issuer_dir)
    if name == "notifier":
        # Started first (a taken port stops `up` before the notifier runs unrecorded), and
        # recorded with the services, so that `down` stops it too.
        state.services[DEMO_RECEIVER] = launch_demo_receiver(config, state)
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
            **_tracing(config),
        },
    )
    return ServiceState(url=f"http://{config.host}:{port}", process=process)


def _tracing(config: StackConfig) -> dict[str, str]:
    """Traces go to the configured collector, if there is one."""
    if config.otlp_endpoint is None:
        return {}
    return {"OVERGANG_TRACE_EXPORTER": "otlp", "OVERGANG_OTLP_ENDPOINT": config.otlp_endpoint}


# The demo webhook receiver: not a service, but started, recorded and stopped like one.
DEMO_RECEIVER = "webhook-receiver"


def demo_receiver_log(config: StackConfig) -> Path:
    return _log_file(config, DEMO_RECEIVER)


def demo_secret_file(config: StackConfig) -> Path:
    """Where the demo load writes the demo subscription's signing secret for the receiver."""
    return config.dir / "demo-webhook" / "secret"


def launch_demo_receiver(config: StackConfig, state: StackState) -> ServiceState:
    """The demo receiver on its loopback port (the one running already, if it does)."""
    current = state.services.get(DEMO_RECEIVER)
    if current is not None and current.process.running():
        return current
    port = config.webhook_receiver_port
    require_free_port(config.host, port, "the demo webhook receiver")
    process = spawn(
        [
            sys.executable,
            "-m",
            "deploy.local.webhook_receiver",
            "--host",
            config.host,
            "--port",
            str(port),
            "--secret-file",
            str(demo_secret_file(config)),
        ],
        log_file=demo_receiver_log(config),
        cwd=REPOSITORY,
        # Each line is written as it happens, for `tail -f`.
        env={"PYTHONUNBUFFERED": "1"},
    )
    return ServiceState(url=f"http://{config.host}:{port}/overgang", process=process)


@contextmanager
def demo_webhook(config: StackConfig, state: StackState) -> Iterator[DemoWebhook | None]:
    """What the demo load needs to subscribe the demo receiver; None unless both the notifier
    and the receiver were started."""
    notifier, receiver = state.services.get("notifier"), state.services.get(DEMO_RECEIVER)
    if notifier is None or receiver is None:
        yield None
        return
    with httpx.Client(base_url=notifier.url, timeout=30) as client:
        yield DemoWebhook(
            notifier=client,
            url=receiver.url,
            secret_file=demo_secret_file(config),
            log_file=demo_receiver_log(config),
        )


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


# The web front: not a service of its own data, but started, recorded and stopped like one.
WEB = "web"
# The development OIDC provider the web front signs in with; started, recorded and stopped
# like a service. The name is the web front's settings' too (services/web/settings.py).
DEV_OIDC = "dev-oidc"
WEB_CLIENT_ID = "overgang-web"


def _web_url(config: StackConfig) -> str:
    return f"http://{config.host}:{config.web_port}"


def web_client_secret(config: StackConfig) -> str:
    """The web front's client secret at the dev provider: made once, kept in the stack
    directory (owner only), so that either can be restarted alone."""
    path = config.dir / "dev-oidc" / "client-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def launch_dev_oidc(config: StackConfig, state: StackState) -> ServiceState:
    """The dev OIDC provider on its loopback port, with the web front as its one client."""
    port = config.dev_oidc_port
    require_free_port(config.host, port, "the development OIDC provider")
    ensure_keys(config.dev_issuer_dir)
    process = spawn(
        [
            sys.executable,
            "-m",
            "deploy.local.dev_oidc",
            "--host",
            config.host,
            "--port",
            str(port),
            "--issuer-dir",
            str(config.dev_issuer_dir),
            "--referral-url",
            state.services["referral"].url,
            "--client-id",
            WEB_CLIENT_ID,
            "--redirect-uri",
            f"{_web_url(config)}/auth/callback",
        ],
        log_file=_log_file(config, DEV_OIDC),
        cwd=REPOSITORY,
        env={"OVERGANG_DEV_OIDC_CLIENT_SECRET": web_client_secret(config)},
    )
    return ServiceState(url=f"http://{config.host}:{port}", process=process)


def launch_web(config: StackConfig, state: StackState) -> ServiceState:
    """The web front on its loopback port, on top of the services that run, signing in
    through the dev OIDC provider."""
    port = config.web_port
    require_free_port(config.host, port, "the web front")
    process = spawn(
        [sys.executable, "-m", "services.web"],
        log_file=_log_file(config, WEB),
        cwd=REPOSITORY,
        env={
            "OVERGANG_HOST": config.host,
            "OVERGANG_PORT": str(port),
            "OVERGANG_REFERRAL_URL": state.services["referral"].url,
            "OVERGANG_AUDIT_URL": state.services["audit"].url,
            "OVERGANG_OIDC_ISSUER": state.services[DEV_OIDC].url,
            "OVERGANG_OIDC_CLIENT_ID": WEB_CLIENT_ID,
            "OVERGANG_OIDC_CLIENT_SECRET": web_client_secret(config),
            "OVERGANG_WEB_BASE_URL": _web_url(config),
        },
    )
    return ServiceState(url=_web_url(config), process=process)
