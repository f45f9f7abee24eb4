"""`overgang audit verify|export`: the audit service's tamper-evident log."""

import asyncio
import contextlib
import sys
import uuid
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from deploy.local.cli.common import (
    BootstrapOption,
    DatabaseOption,
    Failed,
    bearer,
    config,
    err,
    print_json,
    problem_of,
    service_url,
)
from schemas.codes import Role
from schemas.topics import AUDIT
from services.audit.domain.chain import ChainRow
from services.audit.domain.errors import InvalidRange
from services.audit.store import log

audit_app = typer.Typer(help="The audit service's tamper-evident log.", no_args_is_help=True)


@contextlib.contextmanager
def _progress_bar() -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr while rows are walked; none when stderr is not a terminal
    (a log file wants the outcome, not a bar redrawn)."""
    if not err.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("verifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("verify", total=None)

        def advance(walked: int, total: int) -> None:
            progress.update(task, completed=walked, total=total)

        yield advance


async def _row(database_url: str, sequence: int) -> ChainRow | None:
    connection = await asyncpg.connect(database_url)
    try:
        async with connection.transaction(readonly=True):
            async for row in log.rows_between(connection, first=sequence, last=sequence):
                return row
        return None
    finally:
        await connection.close()


def _described(row: ChainRow) -> dict[str, Any]:
    entry = row.entry
    return {
        "sequence": row.sequence,
        "entry_id": str(entry.entry_id),
        "event_id": None if entry.event_id is None else str(entry.event_id),
        "type": entry.type,
        "event_time": None if entry.event_time is None else entry.event_time.isoformat(),
        "source_topic": entry.source_topic,
        "recorded_at": entry.recorded_at.isoformat(),
        "previous_hash": row.previous_hash.hex(),
        "row_hash": row.row_hash.hex(),
    }


@audit_app.command()
def verify(
    first: Annotated[
        int | None, typer.Option("--from", min=1, help="first sequence number")
    ] = None,
    last: Annotated[int | None, typer.Option("--to", min=1, help="last sequence number")] = None,
    database_url: DatabaseOption = None,
    bootstrap_: BootstrapOption = None,
    checkpoint_topic: Annotated[
        str | None, typer.Option("--checkpoint-topic", help="instead of the audit service's")
    ] = None,
) -> None:
    """Walk the log's hash chain (streamed, a progress bar on a terminal) and compare it with
    the latest checkpoint. Prints the outcome as JSON, with the first bad row when there is
    one. Exit codes: 0 it holds; 1 it does not (stderr names the row); 2 bad usage or the
    log cannot be read."""
    from services.audit.verify import outcome, run

    # The audit service's settings only for what the options leave out: given the database
    # and Kafka, the command needs no settings (nor a local stack) at all.
    topic = checkpoint_topic or AUDIT.name
    if database_url is None or bootstrap_ is None:
        from services.audit.app import AuditSettings

        try:
            settings = AuditSettings()
        except ValueError as error:
            err.print(
                f"overgang: the audit service's settings are not usable: {error}", markup=False
            )
            raise typer.Exit(2) from None
        database_url = database_url or settings.database_url.get_secret_value()
        bootstrap_ = bootstrap_ or settings.kafka_bootstrap
        topic = checkpoint_topic or settings.checkpoint_topic
    url = database_url
    try:
        with _progress_bar() as progress:
            checked = asyncio.run(
                run(
                    url,
                    first,
                    last,
                    bootstrap=bootstrap_,
                    checkpoint_topic=topic,
                    progress=progress,
                )
            )
        bad = checked.verification.first_bad_sequence
        row = None if bad is None else asyncio.run(_row(url, bad))
    except InvalidRange as error:
        err.print(f"overgang: {error}", markup=False)
        raise typer.Exit(2) from None
    except (OSError, asyncpg.PostgresError) as error:
        err.print(
            f"overgang: the audit database cannot be read ({type(error).__name__})", markup=False
        )
        raise typer.Exit(2) from None
    found = outcome(checked)
    found["bad_row"] = None if row is None else _described(row)
    print_json(found)
    if checked.ok:
        return
    if bad is not None:
        what = (
            "no row has that sequence number"
            if row is None
            else (
                f"event {row.entry.event_id} ({row.entry.type}), recorded {row.entry.recorded_at}"
            )
        )
        err.print(
            f"overgang: the chain does not hold at sequence {bad} ({found['problem']}): {what}",
            markup=False,
        )
    else:
        err.print(
            f"overgang: the log does not match its latest checkpoint "
            f"({found['checkpoint_status']})",
            markup=False,
        )
    raise typer.Exit(1)


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


class Exported(StrEnum):
    EVENTS = "events"
    TIMELINE = "timeline"
    ACCESS = "access"


@audit_app.command()
def export(
    org: Annotated[
        uuid.UUID,
        typer.Option("--org", help="the auditor's organisation: its county's rows are exported"),
    ],
    what: Annotated[
        Exported,
        typer.Argument(help="the log's rows, a person's timeline (--subject), or the access log"),
    ] = Exported.EVENTS,
    subject: Annotated[
        uuid.UUID | None, typer.Option("--subject", help="only this person's (a subject_id)")
    ] = None,
    format_: Annotated[ExportFormat, typer.Option("--format", help="csv or json")] = (
        ExportFormat.JSON
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here (default: stdout)")
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="the audit service (default: the local stack's)")
    ] = None,
) -> None:
    """Export, streamed, through the audit service's API as an auditor (dev token): an
    export that shows a person's data is recorded as a read of it, as any other."""
    if what is Exported.TIMELINE:
        if subject is None:
            raise typer.BadParameter("a timeline needs --subject", param_hint="--subject")
        path, query = f"/v1/audit/exports/timelines/{subject}", {}
    else:
        path = f"/v1/audit/exports/{what.value}"
        query = {} if subject is None else {"subject_id": str(subject)}
    query["format"] = format_.value
    found = config()
    base = service_url(url, found, "audit")
    headers = bearer(found, org, Role.AUDITOR)
    written = 0
    try:
        with httpx.stream("GET", base + path, params=query, headers=headers, timeout=60) as answer:
            if not answer.is_success:
                answer.read()
                raise Failed(f"the audit service refused the export: {problem_of(answer)}")
            with _sink(output) as sink:
                for chunk in answer.iter_bytes():
                    sink(chunk)
                    written += len(chunk)
    except httpx.HTTPError as error:
        raise Failed(f"the audit service at {base} did not answer: {error}") from None
    if output is not None:
        err.print(f"wrote {written} bytes to {output}", markup=False)


@contextlib.contextmanager
def _sink(output: Path | None) -> Iterator[Callable[[bytes], object]]:
    """Where the export goes: a file (written whole or not at all), or stdout."""
    if output is None:
        yield sys.stdout.buffer.write
        sys.stdout.buffer.flush()
        return
    partial = output.with_name(output.name + ".partial")
    with partial.open("wb") as file:
        yield file.write
    partial.replace(output)
