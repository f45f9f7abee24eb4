"""Migrations are applied once each, in order, atomically, and an edited one is refused."""

from pathlib import Path

import asyncpg
import pytest

from services.plumbing.migrations import MigrationError, migrate

pytestmark = pytest.mark.integration


def write(folder: Path, name: str, sql: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(sql)


async def test_migrations_apply_once_in_order(db: asyncpg.Connection, tmp_path: Path) -> None:
    write(tmp_path, "0002_add_name.sql", "ALTER TABLE organisation ADD COLUMN name text;")
    write(tmp_path, "0001_organisation.sql", "CREATE TABLE organisation (id uuid PRIMARY KEY);")

    first = await migrate(db, tmp_path)
    again = await migrate(db, tmp_path)

    assert first == ["0001_organisation.sql", "0002_add_name.sql"]
    assert again == []
    columns = await db.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'organisation'"
    )
    assert {row["column_name"] for row in columns} == {"id", "name"}
    assert await db.fetchval("SELECT to_regclass('outbox')") is not None


async def test_a_failing_migration_changes_nothing_and_names_its_file(
    db: asyncpg.Connection, tmp_path: Path
) -> None:
    write(tmp_path, "0001_ok.sql", "CREATE TABLE a (id int);")
    write(tmp_path, "0002_broken.sql", "CREATE TABLE b (id int); SELECT no_such_function();")

    with pytest.raises(MigrationError, match=r"0002_broken\.sql failed"):
        await migrate(db, tmp_path)

    assert await db.fetchval("SELECT to_regclass('a')") is not None
    assert await db.fetchval("SELECT to_regclass('b')") is None
    assert await db.fetchval("SELECT count(*) FROM schema_migrations") == 1


async def test_an_applied_migration_that_was_edited_is_refused(
    db: asyncpg.Connection, tmp_path: Path
) -> None:
    write(tmp_path, "0001_table.sql", "CREATE TABLE a (id int);")
    await migrate(db, tmp_path)
    write(tmp_path, "0001_table.sql", "CREATE TABLE a (id bigint);")

    with pytest.raises(MigrationError, match=r"0001_table\.sql was changed"):
        await migrate(db, tmp_path)


def test_a_badly_named_file_is_refused(tmp_path: Path) -> None:
    from services.plumbing.migrations import migrations_of

    write(tmp_path, "create_things.sql", "SELECT 1;")

    with pytest.raises(MigrationError, match=r"NNNN_what\.sql"):
        migrations_of(tmp_path)
