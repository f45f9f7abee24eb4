"""A whole Overgang system of its own, for the end-to-end and fault-injection tests: Kafka,
PostgreSQL, the three services (each its own process, with its own database), the demo
webhook receiver and the demo data, brought up by `overgang stack up --services` (what `make
up` runs) in a directory and on ports of its own. So nothing else shares its topics,
consumer groups or databases (not the other tests' servers, nor a developer's `make up`),
and its broker and database server can be stopped and started again.

The services export their traces over OTLP to the collector they are given."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from deploy.local import processes, services, stack
from deploy.local.config import REPOSITORY, SERVICES, StackConfig
from deploy.local.dev_issuer import issue
from deploy.local.state import StackState
from schemas.codes import Role
from tests.servers import free_port

START_TIMEOUT_S = 300


@dataclass(frozen=True)
class Delivery:
    """One line of the demo webhook receiver's log: a delivery it verified."""

    webhook_id: str
    type: str
    event_id: str
    referral_id: str | None
    again: bool

    @classmethod
    def parse(cls, line: str) -> "Delivery | None":
        """None for a line that is not a verified delivery."""
        _, status, rest = line.split(" ", 2) if line.count(" ") >= 2 else ("", "", "")
        if status != "204" or not rest.startswith("verified"):
            return None
        fields = dict(part.split("=", 1) for part in rest.split() if "=" in part)
        return cls(
            webhook_id=fields["webhook-id"],
            type=fields["type"],
            event_id=fields["event"],
            referral_id=fields.get("referral"),
            again=rest.startswith("verified again"),
        )


@dataclass
class System:
    config: StackConfig
    cli_environment: dict[str, str]
    organisations: dict[str, uuid.UUID]

    # --- where things are

    def state(self) -> StackState:
        return StackState.load(self.config.state_file)

    def url(self, service: str) -> str:
        return self.state().services[service].url

    def database(self, service: str) -> str:
        postgres = self.state().postgres
        assert postgres is not None
        return postgres.databases[service]

    @property
    def kafka_bootstrap(self) -> str:
        kafka = self.state().kafka
        assert kafka is not None
        return kafka.bootstrap

    # --- acting as the people of the demo organisations

    def token(self, organisation: str, *roles: Role) -> str:
        return issue(
            self.config.dev_issuer_dir,
            organisation=self.organisations[organisation],
            roles=list(roles),
            ttl_s=3600,
        )

    def client(self, service: str, organisation: str, *roles: Role) -> httpx.Client:
        return httpx.Client(
            base_url=self.url(service),
            headers={"Authorization": f"Bearer {self.token(organisation, *roles)}"},
            timeout=30,
        )

    def overgang(self, *arguments: str) -> str:
        """Run the `overgang` command against this system; its standard output."""
        return _overgang(self.cli_environment, *arguments)

    # --- what the demo webhook receiver got

    def deliveries(self) -> list[Delivery]:
        log = services.demo_receiver_log(self.config)
        lines = log.read_text().splitlines() if log.exists() else []
        return [found for line in lines if (found := Delivery.parse(line)) is not None]

    # --- faults

    def kill(self, service: str) -> None:
        """SIGKILL: no shutdown, no flushing, no goodbye to Kafka or PostgreSQL."""
        self.state().services[service].process.stop(sig=signal.SIGKILL, timeout_s=10)

    def start(self, service: str) -> None:
        state = self.state()
        state.services[service] = services.launch(self.config, state, service)
        state.save(self.config.state_file)
        services.await_ready(self.config, service, state.services[service])

    def stop_kafka(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """The broker's orderly shutdown; with SIGKILL, a crash."""
        kafka = self.state().kafka
        assert kafka is not None
        assert kafka.process is not None
        kafka.process.stop(sig=sig, timeout_s=60)

    def stop_postgres(self, sig: signal.Signals = signal.SIGINT) -> None:
        """PostgreSQL's fast shutdown (every open transaction rolled back, every connection
        cut); with SIGQUIT its immediate shutdown, a crash: it recovers from its WAL when it
        starts again."""
        postgres = self.state().postgres
        assert postgres is not None
        assert postgres.process is not None
        postgres.process.stop(sig=sig, timeout_s=60)

    def start_servers(self) -> None:
        """Start Kafka and PostgreSQL again where they are stopped (same ports, same data)."""
        stack.up(self.config)

    def until_ready(self, timeout_s: float = 120) -> None:
        """Wait until every service answers ready again."""
        until(
            lambda: all(services.ready(self.state().services[name]) for name in SERVICES),
            timeout_s=timeout_s,
            what="every service ready again",
        )


def until(
    condition: Callable[[], Any], *, timeout_s: float, what: str, every_s: float = 0.2
) -> Any:
    """Poll `condition` until it gives something true; that value. Fails after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(every_s)


def _overgang(environment: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "deploy.local.cli", *arguments],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"overgang {' '.join(arguments)} exited {done.returncode}:\n{done.stderr}"
        )
    return done.stdout


@contextmanager
def running_system(directory: Path, *, otlp_endpoint: str) -> Iterator[System]:
    """`overgang stack up --services` (with the demo) in `directory` on free ports; `overgang
    stack down` afterwards, whatever happened."""
    settings = {
        "dir": str(directory),
        "kafka_port": free_port(),
        "kafka_controller_port": free_port(),
        "postgres_port": free_port(),
        "referral_port": free_port(),
        "notifier_port": free_port(),
        "audit_port": free_port(),
        "webhook_receiver_port": free_port(),
        "web_port": free_port(),
        "dev_oidc_port": free_port(),
        "otlp_endpoint": otlp_endpoint,
    }
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("OVERGANG_")
    } | {f"OVERGANG_STACK_{name.upper()}": str(value) for name, value in settings.items()}
    config = StackConfig.model_validate(settings)
    try:
        started = json.loads(_overgang(environment, "stack", "up", "--services", "--json"))
        organisations = {
            name: uuid.UUID(id_) for name, id_ in started["demo"]["organisations"].items()
        }
        yield System(config, environment, organisations)
    finally:
        _overgang(environment, "stack", "down")
        # What this process restarted, the command stopped: reap it here.
        processes.reap_ended()
