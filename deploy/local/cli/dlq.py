"""`overgang dlq list|show|replay`: records a consumer could not handle, on each topic's
dead-letter topic with the reason in `dlq.*` headers (services/plumbing/dead_letters.py)."""

import asyncio
from typing import Annotated, Any

import typer
from rich.table import Table

from deploy.local.cli.common import (
    BootstrapOption,
    Failed,
    JsonOption,
    bootstrap,
    config,
    out,
    print_json,
)
from services.plumbing.dead_letters import DeadLetter, read_dead_letters, replay

dlq_app = typer.Typer(help="Records a consumer could not handle.", no_args_is_help=True)

TopicArgument = Annotated[
    str, typer.Argument(help="the topic the records came from (not its .dlq)", metavar="TOPIC")
]


def _letters(bootstrap_: str | None, topic: str) -> tuple[str, list[DeadLetter]]:
    found = bootstrap(bootstrap_, config())
    return found, asyncio.run(read_dead_letters(found, topic))


@dlq_app.command("list")
def list_(
    topic: TopicArgument, bootstrap_: BootstrapOption = None, json_: JsonOption = False
) -> None:
    """The dead letters of a topic, with their reasons."""
    _, letters = _letters(bootstrap_, topic)
    if json_:
        print_json([{"partition": d.partition, "offset": d.offset, **d.reason} for d in letters])
        return
    if not letters:
        print(f"no dead letters for {topic}")
        return
    table = Table("letter", "reason", "error", "from offset", "attempts", "group")
    for d in letters:
        r = d.reason
        table.add_row(
            f"{d.partition}:{d.offset}",
            r.get("reason"),
            f"{r.get('error_class')}: {r.get('error_message')}",
            r.get("source_offset"),
            r.get("attempts"),
            r.get("consumer_group"),
        )
    out.print(table)


def _shown(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as `show` prints it: its reason, its original headers and its value (as
    text when it is text)."""
    value: str | None = None
    if letter.value is not None:
        value = letter.value.decode(errors="replace")
    return {
        "partition": letter.partition,
        "offset": letter.offset,
        "key": None if letter.key is None else letter.key.decode(errors="replace"),
        "reason": letter.reason,
        "headers": {
            name: content.decode(errors="replace") for name, content in letter.original_headers
        },
        "value": value,
    }


@dlq_app.command()
def show(
    topic: TopicArgument,
    letter: Annotated[str, typer.Argument(metavar="PARTITION:OFFSET", help="as `list` shows it")],
    bootstrap_: BootstrapOption = None,
    json_: JsonOption = False,
) -> None:
    """One dead letter: why it failed (its dlq.* headers), its own headers and its value."""
    _, letters = _letters(bootstrap_, topic)
    chosen = [d for d in letters if f"{d.partition}:{d.offset}" == letter]
    if not chosen:
        raise Failed(f"no such dead letter of {topic}: {letter}")
    shown = _shown(chosen[0])
    if json_:
        print_json(shown)
        return
    out.print(f"[bold]{topic}.dlq {letter}[/bold]  key {shown['key']}")
    for title in ("reason", "headers"):
        if not shown[title]:
            out.print(f"{title}: none", markup=False)
            continue
        table = Table(title=title, show_header=False, title_justify="left")
        for name, content in shown[title].items():
            table.add_row(name, content)
        out.print(table)
    out.print("value:", markup=False)
    out.print(shown["value"], markup=False)


@dlq_app.command("replay")
def replay_(
    topic: TopicArgument,
    letters: Annotated[
        list[str] | None,
        typer.Argument(metavar="PARTITION:OFFSET...", help="which ones, as `list` shows them"),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="replay every dead letter")] = False,
    bootstrap_: BootstrapOption = None,
    json_: JsonOption = False,
) -> None:
    """Publish chosen dead letters to their topic again, as they first came."""
    found, dead = _letters(bootstrap_, topic)
    wanted = set(letters or [])
    chosen = [d for d in dead if all_ or f"{d.partition}:{d.offset}" in wanted]
    missing = wanted - {f"{d.partition}:{d.offset}" for d in chosen}
    if missing:
        raise Failed(f"no such dead letters of {topic}: {', '.join(sorted(missing))}")
    if not chosen:
        raise Failed("name the dead letters to replay as PARTITION:OFFSET, or give --all")
    replayed = asyncio.run(replay(found, topic, chosen))
    if json_:
        print_json({"replayed": replayed})
    else:
        print(f"replayed {replayed} to {topic}")
