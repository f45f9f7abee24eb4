"""The `overgang` command tree, and `main`, which turns what went wrong into an exit code."""

import logging
import sys
from collections.abc import Sequence

import typer

from deploy.local.cli.audit import audit_app
from deploy.local.cli.common import Failed
from deploy.local.cli.dlq import dlq_app
from deploy.local.cli.imports import import_app
from deploy.local.cli.keys import keys_app
from deploy.local.cli.outbox import outbox_app
from deploy.local.cli.stack import demo_app, stack_app, token
from deploy.local.cli.subjects import subjects_app
from deploy.local.cli.topics import topics_app

app = typer.Typer(
    name="overgang",
    help="Run Overgang locally and look after it. Exit codes: 0 done; 1 it could not be done "
    "(one line on stderr says why); 2 bad usage.",
    no_args_is_help=True,
    add_completion=False,
    # An error is one line on stderr (main), never a traceback in a frame.
    pretty_exceptions_enable=False,
)
app.add_typer(stack_app, name="stack")
app.command()(token)
app.add_typer(demo_app, name="demo")
app.add_typer(topics_app, name="topics")
app.add_typer(dlq_app, name="dlq")
# The old name of `dlq`, for the scripts and runbooks that still say it.
app.add_typer(dlq_app, name="dead-letters", hidden=True)
app.add_typer(audit_app, name="audit")
app.add_typer(import_app, name="import")
app.add_typer(subjects_app, name="subjects")
app.add_typer(outbox_app, name="outbox")
app.add_typer(keys_app, name="keys")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command `argv` (default: the process's arguments); its exit code. Typer says
    bad usage itself (exit 2); what a command could not do is one line here (exit 1)."""
    # A broker that does not answer is our one line on stderr, not aiokafka's log lines too.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        app(args=list(sys.argv[1:] if argv is None else argv), prog_name="overgang")
    except SystemExit as exited:
        return exited.code if isinstance(exited.code, int) else (0 if exited.code is None else 1)
    except Failed as error:
        print(f"overgang: {error}", file=sys.stderr)
        return 1
    return 0
