"""`overgang`: the command line for running Overgang locally and looking after it.

Exit codes: 0 done; 1 the stack could not do it (one line on stderr says why); 2 bad usage.
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import uuid
from collections.abc import Sequence

import httpx

from deploy.local import demo, services, stack
from deploy.local.config import StackConfig
from deploy.local.dev_issuer import issue
from deploy.local.errors import StackError
from deploy.local.state import StackState
from schemas.codes import Role
from services.plumbing.dead_letters import read_dead_letters, replay


def _up(config: StackConfig, arguments: argparse.Namespace) -> None:
    _, report = stack.up(config, with_services=arguments.services)
    loaded = _load_demo(config) if arguments.services and not arguments.no_demo else None
    if arguments.json:
        print(
            json.dumps(
                {
                    "started": report.started,
                    "already_running": report.already_running,
                    "seconds": report.seconds,
                    "total_s": report.total_s,
                    "status": stack.status(config),
                    "demo": None if loaded is None else _demo_summary(loaded),
                }
            )
        )
        return
    for name, seconds in report.seconds.items():
        print(f"{name:<10} ready in {seconds:5.1f} s")
    if report.seconds:
        print(f"{'total':<10} ready in {report.total_s:5.1f} s")
    for name in report.already_running:
        print(f"{name:<10} was already running")
    _print_status(stack.status(config))
    print(f"state: {config.state_file}   logs: {config.log_dir}")
    if loaded is not None:
        _print_demo(config, loaded)


def _load_demo(config: StackConfig) -> demo.DemoData:
    """Load the demo into the running referral service (idempotent), with the demo webhook
    subscription when the notifier and the demo receiver run."""
    state = StackState.load(config.state_file)
    if "referral" not in state.services:
        raise StackError("the referral service does not run: `overgang stack up --services`")
    with (
        services.demo_webhook(config, state) as webhook,
        httpx.Client(base_url=state.services["referral"].url, timeout=30) as client,
    ):
        try:
            return demo.load(client, config.dev_issuer_dir, webhook=webhook)
        except (demo.DemoError, httpx.HTTPError) as error:
            raise StackError(f"the demo data could not be loaded: {error}") from None


def _demo_summary(loaded: demo.DemoData) -> dict[str, object]:
    return {
        "organisations": {name: str(id_) for name, id_ in loaded.organisations.items()},
        "referrals_by_status": dict(loaded.statuses()),
        "created": sum(loaded.created.values()),
    }


def _print_demo(config: StackConfig, loaded: demo.DemoData) -> None:
    urls = {name: s.url for name, s in StackState.load(config.state_file).services.items()}
    for line in demo.where_to_look(urls.get("referral", ""), urls, loaded):
        print(line)


def _demo_load(config: StackConfig, arguments: argparse.Namespace) -> None:
    loaded = _load_demo(config)
    if arguments.json:
        print(json.dumps(_demo_summary(loaded)))
    else:
        _print_demo(config, loaded)


def _demo_school_leaver(config: StackConfig, arguments: argparse.Namespace) -> None:
    event_id = asyncio.run(
        demo.report_school_leaver(
            _bootstrap(arguments, config),
            school=arguments.school,
            birth=arguments.birth_date,
            serial=arguments.serial,
            left_at=arguments.left_at,
        )
    )
    print(json.dumps({"event_id": str(event_id)}) if arguments.json else f"reported: {event_id}")


def _down(config: StackConfig, arguments: argparse.Namespace) -> None:
    stopped = stack.down(config)
    if arguments.json:
        print(json.dumps({"stopped": stopped}))
    else:
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


def _status(config: StackConfig, arguments: argparse.Namespace) -> None:
    report = stack.status(config)
    if arguments.json:
        print(json.dumps(report))
    else:
        _print_status(report)


def _bootstrap(arguments: argparse.Namespace, config: StackConfig) -> str:
    """--bootstrap, else OVERGANG_KAFKA_BOOTSTRAP, else the local stack's broker."""
    found = arguments.bootstrap or os.environ.get("OVERGANG_KAFKA_BOOTSTRAP")
    if not found:
        kafka = StackState.load(config.state_file).kafka
        found = kafka.bootstrap if kafka else None
    if not found:
        raise StackError(
            "no Kafka to ask: give --bootstrap, set OVERGANG_KAFKA_BOOTSTRAP"
            " or run `overgang stack up`"
        )
    return found


def _dead_letters_list(config: StackConfig, arguments: argparse.Namespace) -> None:
    letters = asyncio.run(read_dead_letters(_bootstrap(arguments, config), arguments.topic))
    if arguments.json:
        print(
            json.dumps(
                [{"partition": d.partition, "offset": d.offset, **d.reason} for d in letters]
            )
        )
        return
    if not letters:
        print(f"no dead letters for {arguments.topic}")
    for d in letters:
        r = d.reason
        print(
            f"{d.partition}:{d.offset}  {r.get('reason')}  {r.get('error_class')}: "
            f"{r.get('error_message')}  (from offset {r.get('source_offset')}, "
            f"{r.get('attempts')} attempts, group {r.get('consumer_group')})"
        )


def _dead_letters_replay(config: StackConfig, arguments: argparse.Namespace) -> None:
    bootstrap = _bootstrap(arguments, config)
    letters = asyncio.run(read_dead_letters(bootstrap, arguments.topic))
    wanted = set(arguments.letters)
    chosen = [d for d in letters if arguments.all or f"{d.partition}:{d.offset}" in wanted]
    missing = wanted - {f"{d.partition}:{d.offset}" for d in chosen}
    if missing:
        raise StackError(f"no such dead letters of {arguments.topic}: {', '.join(sorted(missing))}")
    if not chosen:
        raise StackError("name the dead letters to replay as PARTITION:OFFSET, or give --all")
    replayed = asyncio.run(replay(bootstrap, arguments.topic, chosen))
    print(
        json.dumps({"replayed": replayed})
        if arguments.json
        else f"replayed {replayed} to {arguments.topic}"
    )


def _audit_verify(config: StackConfig, arguments: argparse.Namespace) -> None:
    """The audit service's own verification (services/audit/verify.py); 1 when it fails."""
    from services.audit.verify import verify_command

    code = verify_command(arguments)
    if code:
        raise SystemExit(code)


def _token(config: StackConfig, arguments: argparse.Namespace) -> None:
    print(
        issue(
            config.dev_issuer_dir,
            organisation=arguments.org,
            roles=arguments.role,
            actor=arguments.actor,
            ttl_s=arguments.ttl,
        )
    )


def _print_status(report: dict[str, str]) -> None:
    width = max(10, *(len(name) for name in report))
    for name, what in report.items():
        print(f"{name:<{width}} {what}")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="overgang", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    groups = top.add_subparsers(dest="group", required=True)
    stack_parser = groups.add_parser(
        "stack", help="the local Kafka, PostgreSQL and services, without Docker"
    )
    actions = stack_parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start what is not running (idempotent)")
    up.add_argument(
        "--services",
        action="store_true",
        help="also start the referral, notifier and audit services, and load the demo data",
    )
    up.add_argument(
        "--no-demo",
        action="store_true",
        help="with --services: do not load the demo data (it is loaded once; a second load "
        "adds nothing)",
    )
    up.set_defaults(run=_up)
    actions.add_parser("down", help="stop exactly what `up` started").set_defaults(run=_down)
    actions.add_parser("status", help="say what runs, and where").set_defaults(run=_status)
    for action in (up, *(actions.choices[name] for name in ("down", "status"))):
        action.add_argument("--json", action="store_true", help="machine-readable output")

    token = groups.add_parser(
        "token", help="a bearer token from the local development issuer (never in production)"
    )
    token.add_argument("--org", type=uuid.UUID, required=True, help="the organisation's id")
    token.add_argument(
        "--role", type=Role, action="append", required=True, choices=list(Role),
        help="a role (repeat for several)",
    )  # fmt: skip
    token.add_argument("--actor", type=uuid.UUID, help="the actor's id (default: a new one)")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.set_defaults(run=_token)

    demo_parser = groups.add_parser("demo", help="demo data for a local stack")
    demo_actions = demo_parser.add_subparsers(dest="action", required=True)
    demo_load = demo_actions.add_parser(
        "load", help="load the demo county into the running referral service (idempotent)"
    )
    demo_load.add_argument("--json", action="store_true", help="machine-readable output")
    demo_load.set_defaults(run=_demo_load)
    leaver = demo_actions.add_parser(
        "school-leaver",
        help="report, as a school administration system would, that a pupil left school",
    )
    leaver.add_argument("--school", type=uuid.UUID, required=True, help="the school's id")
    leaver.add_argument(
        "--birth-date", type=dt.date.fromisoformat, required=True, help="the pupil's, YYYY-MM-DD"
    )
    leaver.add_argument(
        "--serial", type=int, default=0, help="another pupil born the same day (0, 1, ...)"
    )
    leaver.add_argument(
        "--left-at",
        type=dt.date.fromisoformat,
        default=dt.date.today(),
        help="the pupil's last day at school (today)",
    )
    leaver.add_argument("--bootstrap", help="Kafka (default: the local stack's)")
    leaver.add_argument("--json", action="store_true", help="machine-readable output")
    leaver.set_defaults(run=_demo_school_leaver)

    letters = groups.add_parser("dead-letters", help="records a consumer could not handle")
    letter_actions = letters.add_subparsers(dest="action", required=True)
    listing = letter_actions.add_parser("list", help="the dead letters of a topic, with reasons")
    replaying = letter_actions.add_parser(
        "replay", help="publish chosen dead letters to their topic again, as they first came"
    )
    for action in (listing, replaying):
        action.add_argument("topic", help="the topic the records came from (not its .dlq)")
        action.add_argument("--bootstrap", help="Kafka bootstrap servers")
        action.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(run=_dead_letters_list)
    replaying.add_argument(
        "letters", nargs="*", metavar="PARTITION:OFFSET", help="which ones, as `list` shows them"
    )
    replaying.add_argument("--all", action="store_true", help="replay every dead letter")
    replaying.set_defaults(run=_dead_letters_replay)

    audit = groups.add_parser("audit", help="the audit service's tamper-evident log")
    audit_actions = audit.add_subparsers(dest="action", required=True)
    verifying = audit_actions.add_parser(
        "verify",
        help="walk the log's hash chain and compare it with the latest checkpoint; prints JSON, "
        "exits 1 naming the first bad row (or the checkpoint it contradicts), 2 if unreadable",
    )
    from services.audit.verify import add_arguments

    add_arguments(verifying)
    verifying.set_defaults(run=_audit_verify)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        arguments.run(StackConfig(), arguments)
    except StackError as error:
        print(f"overgang: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
