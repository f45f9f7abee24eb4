"""SQL migrations: the files `NNNN_what.sql` of a service's `migrations` folder, applied once
each, in order, each in its own transaction, recorded with a checksum so that an applied file
that was edited afterwards is refused rather than silently skipped. The plumbing's own tables
(outbox, inbox) come first. Applied at service start-up and by `overgang migrate`."""

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from services.plumbing.database import Connection
from services.plumbing.tables import create_plumbing_tables

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Two instances starting at once must not both migrate.
_LOCK = 0x6D69_6772_6174_65  # "migrate"


class MigrationError(Exception):
    """A migration could not be applied, or an applied one was changed; says which file."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_of(folder: Traversable) -> list[Migration]:
    """The migrations in `folder`, by version; names must be NNNN_what.sql."""
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        matched = _NAME.match(entry.name)
        if matched is None:
            raise MigrationError(f"{entry.name}: migration files are named NNNN_what.sql")
        found.append(Migration(int(matched.group(1)), entry.name, entry.read_text()))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations in {folder.name} share a version number")
    return found


def migrations_folder(package: str) -> Traversable:
    """Where a service keeps its migrations: `<package>/migrations`."""
    return files(package).joinpath("migrations")


async def migrate(connection: Connection, folder: Traversable) -> list[str]:
    """Apply what is not applied yet; return the names applied now."""
    await create_plumbing_tables(connection)
    pending = migrations_of(folder)
    applied_now: list[str] = []
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK)
    try:
        await connection.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer     PRIMARY KEY,
                   name       text        NOT NULL,
                   checksum   text        NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
               )"""
        )
        applied = {
            row["version"]: row
            for row in await connection.fetch(
                "SELECT version, name, checksum FROM schema_migrations"
            )
        }
        for migration in pending:
            done = applied.get(migration.version)
            if done is not None:
                if done["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"{migration.name} was changed after it was applied; add a new migration"
                    )
                continue
            try:
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        """INSERT INTO schema_migrations (version, name, checksum)
                           VALUES ($1, $2, $3)""",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
            except Exception as error:
                raise MigrationError(f"{migration.name} failed: {error}") from error
            applied_now.append(migration.name)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK)
    return applied_now
