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
from typing import Any

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


def run_rotation(
    database_url: str,
    batch: Batch,
    *,
    size: int = 500,
    progress: Callable[[Rotation], None] | None = None,
) -> Rotation:
    """A command's run, on a pool of its own; RotationFailed when the database cannot be
    reached."""

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
