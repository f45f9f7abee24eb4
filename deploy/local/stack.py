"""Bring the local stack up, report on it and take it down again."""

import signal
import time
from dataclasses import dataclass, field

import psutil

from deploy.local import kafka, postgres, services
from deploy.local.config import SERVICES, StackConfig
from deploy.local.errors import StackError
from deploy.local.processes import ProcessRecord
from deploy.local.state import KafkaState, PostgresState, StackState


@dataclass
class StartReport:
    """What `up` did, and how long each part took to become ready (seconds)."""

    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    total_s: float = 0.0
    topics_created: list[str] = field(default_factory=list)


def _kafka_up(state: StackState) -> bool:
    current = state.kafka
    if current is None or (current.process is not None and not current.process.running()):
        return False
    return kafka.answers(current.bootstrap)


def _postgres_up(state: StackState) -> bool:
    current = state.postgres
    return current is not None and (current.process is None or current.process.running())


def up(config: StackConfig, *, with_services: bool = False) -> tuple[StackState, StartReport]:
    """Start whatever is not running yet. Safe to call again: what runs is left alone."""
    state = StackState.load(config.state_file)
    report = StartReport()
    config.log_dir.mkdir(parents=True, exist_ok=True)

    began = first = time.monotonic()
    if _kafka_up(state):
        report.already_running.append("kafka")
    else:
        if kafka.fetch_jars(config):
            report.seconds["kafka jars"] = time.monotonic() - began
            began = time.monotonic()
        process = kafka.start(config)
        state.kafka = KafkaState(bootstrap=kafka.bootstrap_servers(config), process=process)
        state.save(config.state_file)
        report.started.append("kafka")
        report.seconds["kafka"] = time.monotonic() - began

    assert state.kafka is not None
    report.topics_created = kafka.create_topics(state.kafka.bootstrap)

    began = time.monotonic()
    if _postgres_up(state):
        report.already_running.append("postgres")
    elif config.postgres_url is not None:
        databases = postgres.ensure_databases(config.postgres_url)
        state.postgres = PostgresState(url=config.postgres_url, databases=databases)
        report.started.append("postgres (existing server)")
    else:
        process = postgres.start(config)
        url = postgres.server_url(config)
        state.postgres = PostgresState(
            url=url, databases=postgres.ensure_databases(url), process=process
        )
        report.started.append("postgres")
        report.seconds["postgres"] = time.monotonic() - began
    state.save(config.state_file)

    if with_services:
        began = time.monotonic()
        launched = []
        try:
            for name in SERVICES:
                current = state.services.get(name)
                if current is not None and services.ready(current):
                    report.already_running.append(name)
                    continue
                state.services[name] = services.launch(config, state, name)
                launched.append(name)
        finally:
            # Saved before waiting, and also when a later one could not start (a port taken),
            # so that `down` stops every process that was started.
            state.save(config.state_file)
        for name in launched:
            services.await_ready(config, name, state.services[name])
            report.started.append(name)
            report.seconds[name] = time.monotonic() - began
        # The web front signs in through the dev OIDC provider: that one first.
        for name, launch in (
            (services.DEV_OIDC, services.launch_dev_oidc),
            (services.WEB, services.launch_web),
        ):
            current = state.services.get(name)
            if current is not None and services.ready(current):
                report.already_running.append(name)
                continue
            began = time.monotonic()
            state.services[name] = launch(config, state)
            state.save(config.state_file)
            services.await_ready(config, name, state.services[name])
            report.started.append(name)
            report.seconds[name] = time.monotonic() - began
    report.total_s = time.monotonic() - first
    return state, report


def down(config: StackConfig) -> list[str]:
    """Stop exactly the processes `up` started, services first; return what was stopped."""
    state = StackState.load(config.state_file)
    owned: list[tuple[str, ProcessRecord | None, signal.Signals]] = [
        (name, service.process, signal.SIGTERM) for name, service in state.services.items()
    ]
    if state.kafka is not None:
        owned.append(("kafka", state.kafka.process, signal.SIGTERM))
    if state.postgres is not None:
        # SIGINT is PostgreSQL's "fast" shutdown: roll back open work and stop cleanly.
        owned.append(("postgres", state.postgres.process, signal.SIGINT))
    stopped, failed = [], []
    for name, process, sig in owned:
        if process is not None and process.running():
            # One that cannot be stopped must not leave the others running.
            try:
                process.stop(sig=sig, timeout_s=60)
            except (OSError, psutil.Error) as error:
                failed.append(f"{name} (pid {process.pid}): {error}")
                continue
            stopped.append(name)
    if failed:
        raise StackError("could not stop " + "; ".join(failed) + f" (see {config.state_file})")
    config.state_file.unlink(missing_ok=True)
    return stopped


def status(config: StackConfig) -> dict[str, str]:
    """For each part: 'running at …', 'stopped' or 'not started'."""
    state = StackState.load(config.state_file)
    report: dict[str, str] = {}
    if state.kafka is None:
        report["kafka"] = "not started"
    else:
        report["kafka"] = f"running at {state.kafka.bootstrap}" if _kafka_up(state) else "stopped"
    if state.postgres is None:
        report["postgres"] = "not started"
    else:
        where = postgres.redacted(state.postgres.url)
        report["postgres"] = f"running at {where}" if _postgres_up(state) else "stopped"
    for name in SERVICES:
        service = state.services.get(name)
        if service is None:
            report[name] = "not started"
        else:
            report[name] = f"ready at {service.url}" if services.ready(service) else "not ready"
    for name in (services.DEV_OIDC, services.WEB):
        found = state.services.get(name)
        if found is not None:
            report[name] = f"ready at {found.url}" if services.ready(found) else "not ready"
    receiver = state.services.get(services.DEMO_RECEIVER)
    if receiver is not None:
        running = receiver.process.running()
        report[services.DEMO_RECEIVER] = f"running at {receiver.url}" if running else "stopped"
    return report
