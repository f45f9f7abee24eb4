"""`python -m services.audit.verify [--from N] [--to N]` (or `overgang audit verify`): verify
the audit log's hash chain straight from the database (the service's OVERGANG_DATABASE_URL, or
the local stack's), streamed, and compare it with the latest checkpoint on Kafka.

Prints the outcome as JSON. Exit codes: 0 the chain holds (and matches the checkpoint), 1 it
does not (the output names the first bad sequence number, or how the checkpoint differs), 2 bad
usage or the database cannot be reached."""

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from services.audit.domain.errors import InvalidRange
from services.audit.usecases.checkpoints import CheckedVerification, verify_with_checkpoint


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("a sequence number is 1 or more")
    return value


def add_arguments(found: argparse.ArgumentParser) -> None:
    """The options of the command, also under `overgang audit verify`."""
    found.add_argument("--from", dest="first", type=_positive, help="first sequence number")
    found.add_argument("--to", dest="last", type=_positive, help="last sequence number")
    found.add_argument("--database-url", help="instead of the audit service's settings")
    found.add_argument("--bootstrap", help="Kafka, instead of the audit service's settings")
    found.add_argument("--checkpoint-topic", help="instead of the audit service's settings")


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(prog="python -m services.audit.verify", description=__doc__)
    add_arguments(found)
    return found


async def run(
    database_url: str,
    first: int | None,
    last: int | None,
    *,
    bootstrap: str,
    checkpoint_topic: str,
    progress: Callable[[int, int], None] | None = None,
) -> CheckedVerification:
    # Two connections: a long log is walked in two halves at once.
    connection = await asyncpg.connect(database_url)
    helper = await asyncpg.connect(database_url)
    try:
        return await verify_with_checkpoint(
            connection,
            bootstrap=bootstrap,
            topic=checkpoint_topic,
            first=first,
            last=last,
            helper=helper,
            progress=progress,
        )
    finally:
        await helper.close()
        await connection.close()


def outcome(checked: CheckedVerification) -> dict[str, Any]:
    """The outcome as the API says it."""
    result, checkpoint = checked.verification, checked.checkpoint
    return {
        "ok": checked.ok,
        "verified_rows": result.verified_rows,
        "head_sequence": result.head_sequence,
        "head_hash": result.head_hash.hex(),
        "first_bad_sequence": result.first_bad_sequence,
        "problem": None if result.problem is None else result.problem.value,
        "checkpoint": None
        if checkpoint is None
        else {
            "sequence": checkpoint.sequence,
            "row_hash": checkpoint.row_hash.hex(),
            "occurred_at": checkpoint.occurred_at.isoformat(),
        },
        "checkpoint_status": checked.checkpoint_status.value,
    }


def verify_command(arguments: argparse.Namespace) -> int:
    """Run the verification the arguments ask for; print it; the exit code."""
    from services.audit.app import AuditSettings

    settings = AuditSettings()
    url = arguments.database_url or settings.database_url.get_secret_value()
    try:
        checked = asyncio.run(
            run(
                url,
                arguments.first,
                arguments.last,
                bootstrap=arguments.bootstrap or settings.kafka_bootstrap,
                checkpoint_topic=arguments.checkpoint_topic or settings.checkpoint_topic,
            )
        )
    except InvalidRange as error:
        print(f"verify: {error}", file=sys.stderr)
        return 2
    except (OSError, asyncpg.PostgresError) as error:
        print(f"verify: the database cannot be read ({type(error).__name__})", file=sys.stderr)
        return 2
    print(json.dumps(outcome(checked)))
    return 0 if checked.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    return verify_command(parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
