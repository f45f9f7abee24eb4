"""What every command group shares: options, where the stack is, how a command fails.

A command that cannot do what was asked raises `Failed` (the stack's `StackError`): `main`
prints its one line on stderr and exits 1. Bad usage is click's, exit 2."""

import json
import os
import sys
import uuid
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from deploy.local.config import StackConfig
from deploy.local.dev_issuer import issue
from deploy.local.errors import StackError
from deploy.local.state import StackState
from schemas.codes import Role

Failed = StackError

JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]
BootstrapOption = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        metavar="HOST:PORT",
        help="Kafka (default: OVERGANG_KAFKA_BOOTSTRAP, else the local stack's)",
    ),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="the service's database (default: the local stack's)"),
]


def config() -> StackConfig:
    return StackConfig()


# Tables and progress go to the terminal's width; JSON goes to stdout as one plain line.
# Piped, a table is as wide as it needs (up to 200), not cut at rich's 80.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(value: Any) -> None:
    print(json.dumps(value, default=str))


def bootstrap(given: str | None, stack: StackConfig) -> str:
    """--bootstrap, else OVERGANG_KAFKA_BOOTSTRAP, else the local stack's broker."""
    found = given or os.environ.get("OVERGANG_KAFKA_BOOTSTRAP")
    if not found:
        kafka = StackState.load(stack.state_file).kafka
        found = kafka.bootstrap if kafka else None
    if not found:
        raise Failed(
            "no Kafka to ask: give --bootstrap, set OVERGANG_KAFKA_BOOTSTRAP"
            " or run `overgang stack up`"
        )
    return found


def database_url(given: str | None, stack: StackConfig, service: str) -> str:
    """--database-url, else the local stack's database of `service`."""
    if given:
        return given
    postgres = StackState.load(stack.state_file).postgres
    if postgres is None or service not in postgres.databases:
        raise Failed(
            f"no {service} database to ask: give --database-url or run `overgang stack up`"
        )
    return postgres.databases[service]


def service_url(given: str | None, stack: StackConfig, service: str) -> str:
    """--url, else where the local stack runs `service`."""
    if given:
        return given.rstrip("/")
    found = StackState.load(stack.state_file).services.get(service)
    if found is None:
        raise Failed(
            f"the {service} service does not run: give --url or `overgang stack up --services`"
        )
    return found.url


def bearer(stack: StackConfig, organisation: uuid.UUID, role: Role) -> dict[str, str]:
    """A dev-issuer token's Authorization header (the local stack trusts the dev issuer)."""
    token = issue(stack.dev_issuer_dir, organisation=organisation, roles=[role])
    return {"Authorization": f"Bearer {token}"}


def problem_of(response: httpx.Response) -> str:
    """An HTTP error answer in one line: its problem+json title and detail when it has them."""
    try:
        problem = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(problem, dict):
        parts = [str(problem.get(k)) for k in ("title", "detail") if problem.get(k)]
        if parts:
            return f"HTTP {response.status_code}: " + ": ".join(parts)
    return f"HTTP {response.status_code}"
