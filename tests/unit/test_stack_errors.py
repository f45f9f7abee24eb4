"""The stack's command line says what is wrong in one line, not with a stack trace."""

import socket
from pathlib import Path

import pytest

from deploy.local.cli import main


@pytest.fixture
def stack_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OVERGANG_STACK_DIR", str(tmp_path))
    return tmp_path


def test_a_taken_kafka_port_is_one_clear_line(
    stack_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        monkeypatch.setenv("OVERGANG_STACK_KAFKA_PORT", str(port))

        code = main(["stack", "up"])

    error = capsys.readouterr().err
    assert code == 1
    assert error.count("\n") == 1
    assert error.startswith(f"overgang: port {port} on 127.0.0.1 is already in use")


def test_missing_java_is_one_clear_line(
    stack_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(stack_dir))

    code = main(["stack", "up"])

    error = capsys.readouterr().err
    assert code == 1
    assert error.count("\n") == 1
    assert "Java 17 or newer is needed" in error


def test_status_of_a_stack_never_started(
    stack_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stack", "status"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "kafka",
        "postgres",
        "referral",
        "notifier",
        "audit",
    ]
    assert all(line.endswith("not started") for line in lines)


def test_down_with_nothing_running_stops_nothing(
    stack_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stack", "down"]) == 0

    assert capsys.readouterr().out == "stopped: nothing was running\n"
