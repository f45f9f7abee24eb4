"""`overgang outbox status`: per service, what its outbox holds back (read from each
service's own database: the `outbox` table of services/plumbing/sql/plumbing.sql)."""

import asyncio
from typing import Annotated, Any

import asyncpg
import typer
from rich.table import Table

from deploy.local.cli.common import Failed, JsonOption, config, database_url, out, print_json
from deploy.local.config import SERVICE_DATABASES

outbox_app = typer.Typer(help="The services' transactional outboxes.", no_args_is_help=True)

_STATUS = """
SELECT count(*) FILTER (WHERE sent_at IS NULL) AS waiting,
       extract(epoch FROM clock_timestamp()
               - min(enqueued_at) FILTER (WHERE sent_at IS NULL)) AS oldest_waiting_s,
       max(sent_at) AS last_published_at
FROM outbox
"""


async def _status(url: str) -> dict[str, Any]:
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(_STATUS)
    finally:
        await connection.close()
    assert row is not None
    last = row["last_published_at"]
    oldest = row["oldest_waiting_s"]
    return {
        "waiting": row["waiting"],
        "oldest_waiting_s": None if oldest is None else round(float(oldest), 1),
        "last_published_at": None if last is None else last.isoformat(),
    }


@outbox_app.command()
def status(
    service: Annotated[
        list[str] | None,
        typer.Argument(metavar="[SERVICE]...", help="referral, notifier, audit (default: all)"),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Rows waiting to be published, how long the oldest has waited, and when the last was
    published (pruned rows are gone: a quiet outbox may say none)."""
    found = config()
    chosen = service or list(SERVICE_DATABASES)
    unknown = [name for name in chosen if name not in SERVICE_DATABASES]
    if unknown:
        raise typer.BadParameter(f"no such service: {', '.join(unknown)}", param_hint="SERVICE")
    report: dict[str, dict[str, Any]] = {}
    for name in chosen:
        try:
            report[name] = asyncio.run(_status(database_url(None, found, name)))
        except (OSError, asyncpg.PostgresError) as error:
            raise Failed(f"the {name} database cannot be read ({type(error).__name__})") from None
    if json_:
        print_json(report)
        return
    table = Table("service", "waiting", "oldest waiting", "last published")
    for name, row in report.items():
        table.add_row(
            name,
            str(row["waiting"]),
            "-" if row["oldest_waiting_s"] is None else f"{row['oldest_waiting_s']} s",
            row["last_published_at"] or "-",
        )
    out.print(table)
