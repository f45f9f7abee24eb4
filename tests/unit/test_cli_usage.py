"""`overgang` without a stack: every command has its help, bad usage exits 2, and what cannot
be done is one line on stderr and exit 1."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperGroup

from deploy.local.cli import app, main


@pytest.fixture(autouse=True)
def empty_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stack directory with nothing started, and no servers named by the environment."""
    monkeypatch.setenv("OVERGANG_STACK_DIR", str(tmp_path / "stack"))
    for name in ("OVERGANG_KAFKA_BOOTSTRAP", "OVERGANG_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _commands(group: TyperGroup, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*path, name)
        if isinstance(command, TyperGroup):
            yield from _commands(command, (*path, name))


COMMANDS = list(_commands(typer.main.get_group(app)))


def test_the_command_tree() -> None:
    assert {" ".join(c) for c in COMMANDS} >= {
        "stack up",
        "stack down",
        "stack status",
        "token",
        "demo load",
        "demo school-leaver",
        "topics create",
        "topics describe",
        "dlq list",
        "dlq show",
        "dlq replay",
        "dead-letters list",
        "audit verify",
        "audit export",
        "import organisations",
        "import agreements",
        "subjects export",
        "outbox status",
        "keys rewrap",
        "keys reseal",
        "keys rotate-signing-key",
        "keys retire-signing-keys",
    }


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_its_help(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0

    assert f"Usage: overgang {' '.join(command)}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "arguments",
    [
        ["no-such-command"],
        ["stack", "up", "--no-such-option"],
        ["token", "--org", "not-a-uuid", "--role", "admin"],
        ["token", "--org", str(uuid.uuid4()), "--role", "emperor"],
        ["demo", "school-leaver", "--school", str(uuid.uuid4()), "--birth-date", "5 Oct 2008"],
        ["audit", "verify", "--from", "0"],
        ["audit", "export", "timeline", "--org", str(uuid.uuid4())],
        ["outbox", "status", "no-such-service"],
        ["import", "organisations", "no-such-file.csv", "--as-org", str(uuid.uuid4())],
    ],
    ids=" ".join,
)
def test_bad_usage_exits_2(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(arguments) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Usage: overgang" in captured.err


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["dlq", "list", "overgang.person.v1"], "no Kafka to ask"),
        (["topics", "describe"], "no Kafka to ask"),
        (["subjects", "export", str(uuid.uuid4()), "--org", str(uuid.uuid4())], "does not run"),
        (["audit", "export", "--org", str(uuid.uuid4())], "does not run"),
        (["outbox", "status"], "no referral database to ask"),
        (["demo", "load"], "does not run"),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, list) else "",
)
def test_without_a_stack_it_is_one_clear_line(
    arguments: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(arguments) == 1

    error = capsys.readouterr().err
    assert error.startswith("overgang: ")
    assert error.count("\n") == 1
    assert says in error


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No database is asked: a file with a bad row is refused before it needs one.
    file = tmp_path / "organisations.csv"
    file.write_text(
        "name,type,sector,organisation_number,county_number,municipality_numbers\n"
        "NAV Fjell,nav_office,work_welfare,,46,4626\n"
        ",school,education,,46,4627\n"
        "NAV Sund,nav_offce,work_welfare,,46,4626 46xx\n"
    )

    code = main(["import", "organisations", str(file), "--as-org", str(uuid.uuid4()), "--json"])

    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.splitlines() == [
        f"{file}:3: name: Field required",
        f"{file}:4: type: Input should be 'school', 'follow_up_service', 'nav_office', "
        "'career_centre', 'county_education' or 'other'; municipality_numbers.1: String should "
        "match pattern '^[0-9]{4}$'",
        f"overgang: nothing of {file} was imported: 2 bad row(s)",
    ]
    assert '"imported": 0' in captured.out


def test_a_file_with_unknown_columns_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "agreements.csv"
    file.write_text("county_number,colour\n46,blue\n")

    assert main(["import", "agreements", str(file)]) == 1

    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "unknown: colour" in error
