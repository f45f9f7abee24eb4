"""`python -m services.audit.verify [--from N] [--to N]`: verify the audit log's hash chain
straight from the database (the service's OVERGANG_DATABASE_URL, or the local stack's), streamed.

Prints the outcome as JSON. Exit codes: 0 the chain holds, 1 it does not (the output names the
first bad sequence number), 2 bad usage or the database cannot be reached."""

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

import asyncpg

from services.audit.domain.chain import Verification
from services.audit.domain.errors import InvalidRange
from services.audit.usecases.verify import verify_chain


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("a sequence number is 1 or more")
    return value


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(prog="python -m services.audit.verify", description=__doc__)
    found.add_argument("--from", dest="first", type=_positive, help="first sequence number")
    found.add_argument("--to", dest="last", type=_positive, help="last sequence number")
    found.add_argument("--database-url", help="instead of the audit service's settings")
    return found


async def run(database_url: str, first: int | None, last: int | None) -> Verification:
    connection = await asyncpg.connect(database_url)
    try:
        return await verify_chain(connection, first=first, last=last)
    finally:
        await connection.close()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    url = arguments.database_url
    if url is None:
        from services.audit.app import AuditSettings

        url = AuditSettings().database_url.get_secret_value()
    try:
        result = asyncio.run(run(url, arguments.first, arguments.last))
    except InvalidRange as error:
        print(f"verify: {error}", file=sys.stderr)
        return 2
    except (OSError, asyncpg.PostgresError) as error:
        print(f"verify: the database cannot be read ({type(error).__name__})", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "ok": result.ok,
                "verified_rows": result.verified_rows,
                "head_sequence": result.head_sequence,
                "head_hash": result.head_hash.hex(),
                "first_bad_sequence": result.first_bad_sequence,
                "problem": None if result.problem is None else result.problem.value,
            }
        )
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
