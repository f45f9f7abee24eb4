"""Start, recognise and stop the processes the stack owns, by pid and start time."""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil
from pydantic import BaseModel

from deploy.local.errors import StackError


class ProcessRecord(BaseModel):
    """A process the stack started: its pid plus its start time, so that a pid the kernel
    has since given to another program is never mistaken for ours."""

    pid: int
    started_at: float

    @classmethod
    def of(cls, pid: int) -> "ProcessRecord":
        return cls(pid=pid, started_at=psutil.Process(pid).create_time())

    def running(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            return (
                abs(process.create_time() - self.started_at) < 0.01
                and process.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.NoSuchProcess:
            return False

    def stop(self, *, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 30.0) -> None:
        """Ask the process to stop, wait for it, and kill it if it will not."""
        if not self.running():
            reap_ended()
            return
        process = psutil.Process(self.pid)
        try:
            process.send_signal(sig)
            if not _ended(process, timeout_s):
                process.kill()
                _ended(process, 10)
        except psutil.NoSuchProcess:
            pass
        finally:
            reap_ended()


def _ended(process: psutil.Process, timeout_s: float) -> bool:
    """Wait until the process has exited; whether it did in time. One we started has ended
    when we have reaped it. One that another process started (e.g. a service the test
    harness restarted) stays a zombie until that one reaps it: it has ended all the same."""
    ours = _popen(process.pid)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ours is not None:
            if ours.poll() is not None:
                return True
        else:
            try:
                if process.status() == psutil.STATUS_ZOMBIE:
                    return True
            except psutil.NoSuchProcess:
                return True
        time.sleep(0.05)
    return False


# The processes this interpreter started. They outlive it on purpose; holding their Popen
# objects keeps Python from warning, as they are collected, that they still run.
_started: list["subprocess.Popen[bytes]"] = []


def _popen(pid: int) -> "subprocess.Popen[bytes] | None":
    """The Popen of a process this interpreter started, if it did."""
    return next((process for process in _started if process.pid == pid), None)


def reap_ended() -> None:
    """Let go of every process we started that has ended, whoever stopped it (us, or e.g.
    `overgang stack down` from another process). Only once reaped: a Popen let go of while
    its process runs warns that it does."""
    for process in list(_started):
        if process.poll() is not None:
            _started.remove(process)


def spawn(
    command: Sequence[str],
    *,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> ProcessRecord:
    """Start a long-running process detached from this one (its own session), output to a log."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
            user=user,
        )
    _started.append(process)
    return ProcessRecord.of(process.pid)


def require_free_port(host: str, port: int, what: str) -> None:
    """Fail with one clear line when something already listens where we want to."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise StackError(
                f"port {port} on {host} is already in use, so {what} cannot start there: "
                f"stop what holds it or choose another port (see deploy/local/config.py)"
            ) from None


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log, to explain a failed start."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until(
    ready: Callable[[], bool],
    *,
    process: ProcessRecord,
    timeout_s: float,
    what: str,
    log_file: Path,
) -> None:
    """Poll `ready` until it holds; fail at once, with the log's last lines, if the process dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process.running():
            raise StackError(f"{what} exited during start-up; see {log_file}:\n{tail(log_file)}")
        if ready():
            return
        time.sleep(0.2)
    process.stop()
    raise StackError(f"{what} was not ready within {timeout_s:.0f} s; see {log_file}")
