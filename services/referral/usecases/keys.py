"""Rotating the master key: after the new key is the master key and the old one is retired
(settings), every person's data key is wrapped anew by the master key, batch by batch, each
batch its own transaction, so that the service keeps answering. Run it again and it finds
nothing to do; then the retired key can be removed from the settings."""

from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from schemas.ids import SubjectId
from services.referral.crypto import StoreKeys
from services.referral.store import subjects


@dataclass
class Rewrapping:
    """What a rotation did: persons with a key looked at, data keys wrapped anew, and those
    that no configured key opened (wrapped by a key that is not in the settings)."""

    checked: int = 0
    rewrapped: int = 0
    unopened: list[SubjectId] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unopened


async def rewrap_data_keys(
    pool: asyncpg.Pool,
    keys: StoreKeys,
    *,
    batch: int = 500,
    progress: Callable[[Rewrapping], None] | None = None,
) -> Rewrapping:
    """Wrap every person's data key by the master key; `progress` hears after each batch."""
    done = Rewrapping()
    after: SubjectId | None = None
    while True:
        async with pool.acquire() as connection, connection.transaction():
            found = await subjects.rewrap_batch(connection, keys, after=after, limit=batch)
        if found.last is None:
            return done
        after = found.last
        done.checked += found.checked
        done.rewrapped += found.rewrapped
        done.unopened += found.unopened
        if progress is not None:
            progress(done)
