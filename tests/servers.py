"""Finds the Kafka broker and PostgreSQL server the tests run against, in this order:

1. the servers named by OVERGANG_KAFKA_BOOTSTRAP and OVERGANG_DATABASE_URL;
2. testcontainers, when a Docker engine answers;
3. the local stack (`overgang stack up`), started here if it does not run, stopped at the end
   only if it was started here.

A server that cannot be had is an error that says why, never a skipped test."""

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from deploy.local import stack
from deploy.local.config import TEST_DATABASE, StackConfig
from deploy.local.postgres import database_url, ensure_databases

# Below the kernel's ephemeral range (32768-60999 here): a port the kernel handed out as free
# may be taken by an outgoing connection before the server meant for it starts (seen: the web
# front, started last, found its port taken). Ports here are never handed out that way.
_PORTS = range(20000, 32000)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, outside the ephemeral range."""
    for _ in range(200):
        port = secrets.choice(_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_PORTS.start}-{_PORTS.stop - 1}")


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap: str
    database_url: str
    origin: str


def _docker_answers() -> bool:
    """True when a Docker engine answers its ping (the docker client alone is not enough)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://"):
        family, address = socket.AF_UNIX, host.removeprefix("unix://")
    else:
        name, _, port = host.removeprefix("tcp://").partition(":")
        family, address = socket.AF_INET, (name, int(port or 2375))  # type: ignore[assignment]
    try:
        with socket.socket(family, socket.SOCK_STREAM) as engine:
            engine.settimeout(2)
            engine.connect(address)
            engine.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return engine.recv(64).startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))
    except OSError:
        return False


@contextmanager
def _from_testcontainers() -> Iterator[Servers]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with (
        KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft() as kafka,
        PostgresContainer("postgres:16-alpine", driver=None) as postgres,
    ):
        url = postgres.get_connection_url()
        ensure_databases(url)
        yield Servers(
            kafka.get_bootstrap_server(), database_url(url, TEST_DATABASE), "testcontainers"
        )


@contextmanager
def _from_local_stack() -> Iterator[Servers]:
    config = StackConfig()
    state, report = stack.up(config)
    assert state.kafka is not None
    assert state.postgres is not None
    try:
        yield Servers(
            state.kafka.bootstrap,
            state.postgres.databases[TEST_DATABASE],
            "local stack (started here)" if report.started else "local stack",
        )
    finally:
        if report.started:
            stack.down(config)


@contextmanager
def running_servers() -> Iterator[Servers]:
    kafka = os.environ.get("OVERGANG_KAFKA_BOOTSTRAP")
    database = os.environ.get("OVERGANG_DATABASE_URL")
    if kafka and database:
        yield Servers(kafka, database, "environment")
        return
    with ExitStack() as started:
        found = started.enter_context(
            _from_testcontainers() if _docker_answers() else _from_local_stack()
        )
        yield Servers(kafka or found.kafka_bootstrap, database or found.database_url, found.origin)
