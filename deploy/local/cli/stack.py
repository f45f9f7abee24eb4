"""`overgang stack up|down|status`, `overgang token` and `overgang demo load|school-leaver`:
the local stack, its dev tokens and its demo data."""

import asyncio
import datetime as dt
import uuid
from typing import Annotated

import httpx
import typer

from deploy.local import demo, services, stack
from deploy.local.cli.common import (
    BootstrapOption,
    Failed,
    JsonOption,
    bootstrap,
    config,
    print_json,
)
from deploy.local.config import StackConfig
from deploy.local.dev_issuer import issue
from deploy.local.state import StackState
from schemas.codes import Role

stack_app = typer.Typer(
    help="The local Kafka, PostgreSQL and services, without Docker.", no_args_is_help=True
)
demo_app = typer.Typer(help="Demo data for a local stack.", no_args_is_help=True)


@stack_app.command()
def up(
    with_services: Annotated[
        bool,
        typer.Option(
            "--services",
            help="also start the referral, notifier and audit services, and load the demo data",
        ),
    ] = False,
    no_demo: Annotated[
        bool,
        typer.Option(
            "--no-demo",
            help="with --services: do not load the demo data (it is loaded once; a second "
            "load adds nothing)",
        ),
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Start what is not running (idempotent)."""
    found = config()
    _, report = stack.up(found, with_services=with_services)
    loaded = _load_demo(found) if with_services and not no_demo else None
    if json_:
        print_json(
            {
                "started": report.started,
                "already_running": report.already_running,
                "seconds": report.seconds,
                "total_s": report.total_s,
                "status": stack.status(found),
                "demo": None if loaded is None else _demo_summary(loaded),
            }
        )
        return
    for name, seconds in report.seconds.items():
        print(f"{name:<10} ready in {seconds:5.1f} s")
    if report.seconds:
        print(f"{'total':<10} ready in {report.total_s:5.1f} s")
    for name in report.already_running:
        print(f"{name:<10} was already running")
    _print_status(stack.status(found))
    print(f"state: {found.state_file}   logs: {found.log_dir}")
    if loaded is not None:
        _print_demo(found, loaded)


@stack_app.command()
def down(json_: JsonOption = False) -> None:
    """Stop exactly what `up` started (by pid and start time)."""
    stopped = stack.down(config())
    if json_:
        print_json({"stopped": stopped})
    else:
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@stack_app.command()
def status(json_: JsonOption = False) -> None:
    """Say what runs, and where."""
    report = stack.status(config())
    if json_:
        print_json(report)
    else:
        _print_status(report)


def _print_status(report: dict[str, str]) -> None:
    width = max(10, *(len(name) for name in report))
    for name, what in report.items():
        print(f"{name:<{width}} {what}")


def token(
    org: Annotated[uuid.UUID, typer.Option("--org", help="the organisation's id")],
    role: Annotated[list[Role], typer.Option("--role", help="a role (repeat for several)")],
    actor: Annotated[
        uuid.UUID | None, typer.Option("--actor", help="the actor's id (default: a new one)")
    ] = None,
    ttl: Annotated[int, typer.Option("--ttl", help="seconds until it expires")] = 3600,
) -> None:
    """A bearer token from the local development issuer (never in production)."""
    print(issue(config().dev_issuer_dir, organisation=org, roles=role, actor=actor, ttl_s=ttl))


def _load_demo(found: StackConfig) -> demo.DemoData:
    """Load the demo into the running referral service (idempotent), with the demo webhook
    subscription when the notifier and the demo receiver run."""
    state = StackState.load(found.state_file)
    if "referral" not in state.services:
        raise Failed("the referral service does not run: `overgang stack up --services`")
    with (
        services.demo_webhook(found, state) as webhook,
        httpx.Client(base_url=state.services["referral"].url, timeout=30) as client,
    ):
        try:
            return demo.load(client, found.dev_issuer_dir, webhook=webhook)
        except (demo.DemoError, httpx.HTTPError) as error:
            raise Failed(f"the demo data could not be loaded: {error}") from None


def _demo_summary(loaded: demo.DemoData) -> dict[str, object]:
    return {
        "organisations": {name: str(id_) for name, id_ in loaded.organisations.items()},
        "referrals_by_status": dict(loaded.statuses()),
        "created": sum(loaded.created.values()),
    }


def _print_demo(found: StackConfig, loaded: demo.DemoData) -> None:
    urls = {name: s.url for name, s in StackState.load(found.state_file).services.items()}
    for line in demo.where_to_look(urls.get("referral", ""), urls, loaded):
        print(line)


@demo_app.command("load")
def demo_load(json_: JsonOption = False) -> None:
    """Load the demo county into the running referral service (idempotent)."""
    found = config()
    loaded = _load_demo(found)
    if json_:
        print_json(_demo_summary(loaded))
    else:
        _print_demo(found, loaded)


@demo_app.command("school-leaver")
def school_leaver(
    school: Annotated[uuid.UUID, typer.Option("--school", help="the school's id")],
    birth_date: Annotated[
        dt.date,
        typer.Option(
            "--birth-date", parser=dt.date.fromisoformat, metavar="YYYY-MM-DD", help="the pupil's"
        ),
    ],
    serial: Annotated[
        int, typer.Option("--serial", help="another pupil born the same day (0, 1, ...)")
    ] = 0,
    left_at: Annotated[
        dt.date | None,
        typer.Option(
            "--left-at",
            parser=dt.date.fromisoformat,
            metavar="YYYY-MM-DD",
            help="the pupil's last day at school (default: today)",
        ),
    ] = None,
    bootstrap_: BootstrapOption = None,
    json_: JsonOption = False,
) -> None:
    """Report, as a school administration system would, that a pupil left school."""
    event_id = asyncio.run(
        demo.report_school_leaver(
            bootstrap(bootstrap_, config()),
            school=school,
            birth=birth_date,
            serial=serial,
            left_at=left_at or dt.date.today(),
        )
    )
    if json_:
        print_json({"event_id": str(event_id)})
    else:
        print(f"reported: {event_id}")
