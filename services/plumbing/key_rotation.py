"""Rotating a key that seals data at rest (the referral service's master key, the notifier's
secret key): the new key becomes the key, the old one is retired (still opens, never seals),
and what the old key sealed is sealed anew by the new one, batch by batch, each batch its own
transaction, so that the service keeps answering. Run again, it finds nothing to do; then the
retired key can be removed from the settings. What no configured key opens is named, never
passed over in silence."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg

from services.plumbing.database import Connection


@dataclass(frozen=True)
class RotatedBatch:
    """One batch: the last row looked at (None: there were no more), how many were sealed
    anew, and the ids of those no configured key opened."""

    last: uuid.UUID | None
    checked: int
    resealed: int
    unopened: list[uuid.UUID]


# Seal anew the rows after the given id (None: from the first), at most so many, in the
# connection's transaction.
Batch = Callable[[Connection, uuid.UUID | None, int], Awaitable[RotatedBatch]]


@dataclass(frozen=True)
class SealedColumn:
    """Where sealed values live: a table, its uuid key, and the column holding them (rows
    where it is NULL have nothing to reseal)."""

    table: str
    key: str
    column: str


class Sealer(Protocol):
    """The service's keys for one kind of sealed value, bound to the row's id."""

    def sealed_by_current_key(self, sealed: bytes, row_id: uuid.UUID) -> bool: ...

    def reseal(self, sealed: bytes, row_id: uuid.UUID) -> bytes:
        """Opened with any configured key, sealed by the current one; Unopenable if none
        opens it."""
        ...


class Unopenable(Exception):
    """No configured key opens a sealed value."""


async def reseal_batch(
    connection: Connection,
    after: uuid.UUID | None,
    limit: int,
    *,
    where: SealedColumn,
    sealer: Sealer,
) -> RotatedBatch:
    """Seal by the current key the values of the next `limit` rows after `after` that a
    retired key sealed, in the caller's transaction (the rows locked: nothing else changes
    them meanwhile, an erasure waits)."""
    rows = await connection.fetch(
        f"""SELECT {where.key} AS row_id, {where.column} AS sealed FROM {where.table}
            WHERE {where.column} IS NOT NULL AND ($1::uuid IS NULL OR {where.key} > $1)
            ORDER BY {where.key} LIMIT $2 FOR UPDATE""",  # noqa: S608 - names from code
        after,
        limit,
    )
    resealed: dict[uuid.UUID, bytes] = {}
    unopened: list[uuid.UUID] = []
    for row in rows:
        row_id, sealed = row["row_id"], row["sealed"]
        if sealer.sealed_by_current_key(sealed, row_id):
            continue
        try:
            resealed[row_id] = sealer.reseal(sealed, row_id)
        except Unopenable:
            unopened.append(row_id)
    if resealed:
        await connection.execute(
            f"""UPDATE {where.table} t SET {where.column} = u.sealed
                FROM unnest($1::uuid[], $2::bytea[]) AS u (row_id, sealed)
                WHERE t.{where.key} = u.row_id""",  # noqa: S608 - names from code
            list(resealed),
            list(resealed.values()),
        )
    return RotatedBatch(
        last=rows[-1]["row_id"] if rows else None,
        checked=len(rows),
        resealed=len(resealed),
        unopened=unopened,
    )


@dataclass
class Rotation:
    """What a rotation did so far."""

    checked: int = 0
    resealed: int = 0
    unopened: list[uuid.UUID] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unopened

    def outcome(self) -> dict[str, Any]:
        """As the commands print it."""
        return {
            "complete": self.complete,
            "checked": self.checked,
            "resealed": self.resealed,
            "unopened": [str(row_id) for row_id in self.unopened],
        }


async def rotate(
    pool: asyncpg.Pool,
    batch: Batch,
    *,
    size: int = 500,
    progress: Callable[[Rotation], None] | None = None,
) -> Rotation:
    """Run `batch` over every row; `progress` hears after each batch."""
    done = Rotation()
    after: uuid.UUID | None = None
    while True:
        async with pool.acquire() as connection, connection.transaction():
            found = await batch(connection, after, size)
        if found.last is None:
            return done
        after = found.last
        done.checked += found.checked
        done.resealed += found.resealed
        done.unopened += found.unopened
        if progress is not None:
            progress(done)


class RotationFailed(Exception):
    """The rotation could not run (settings, database); the message says why, in one line."""


def rotate_with_settings(
    service: str,
    load: Callable[[], tuple[str, Batch]],
    *,
    database_url: str | None = None,
    size: int = 500,
    progress: Callable[[Rotation], None] | None = None,
) -> Rotation:
    """A command's run: `load` reads the service's settings (its database URL, and the batch
    with its keys); RotationFailed, in one line, when they are unusable (the message names a
    setting, never its value) or the database cannot be reached."""
    try:
        settings_url, batch = load()
    except ValueError as error:  # pydantic's ValidationError and a missing key are ValueErrors
        raise RotationFailed(f"the {service} service's settings are not usable: {error}") from None
    return run_rotation(database_url or settings_url, batch, size=size, progress=progress)


def run_rotation(
    database_url: str,
    batch: Batch,
    *,
    size: int = 500,
    progress: Callable[[Rotation], None] | None = None,
) -> Rotation:
    """A rotation on a pool of its own; RotationFailed when the database cannot be reached."""

    async def rotating() -> Rotation:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            return await rotate(pool, batch, size=size, progress=progress)
        finally:
            await pool.close()

    try:
        return asyncio.run(rotating())
    except (OSError, asyncpg.PostgresError) as error:
        raise RotationFailed(f"the database cannot be reached ({type(error).__name__})") from None
