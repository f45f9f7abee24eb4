"""`overgang`: the command line for running Overgang locally.

Exit codes: 0 done; 1 the stack could not do it (one line on stderr says why); 2 bad usage.
"""

import argparse
import json
import sys
from collections.abc import Sequence

from deploy.local import stack
from deploy.local.config import StackConfig
from deploy.local.errors import StackError


def _up(config: StackConfig, arguments: argparse.Namespace) -> None:
    _, report = stack.up(config, with_services=arguments.services)
    if arguments.json:
        print(
            json.dumps(
                {
                    "started": report.started,
                    "already_running": report.already_running,
                    "seconds": report.seconds,
                    "total_s": report.total_s,
                    "status": stack.status(config),
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


def _print_status(report: dict[str, str]) -> None:
    for name, what in report.items():
        print(f"{name:<10} {what}")


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
        help="also start the referral, notifier and audit services",
    )
    up.set_defaults(run=_up)
    actions.add_parser("down", help="stop exactly what `up` started").set_defaults(run=_down)
    actions.add_parser("status", help="say what runs, and where").set_defaults(run=_status)
    for action in (up, *(actions.choices[name] for name in ("down", "status"))):
        action.add_argument("--json", action="store_true", help="machine-readable output")
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
