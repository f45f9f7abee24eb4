"""Subscriptions: made, read, listed, paused and resumed, deleted; and which ones want an
event. A deleted subscription stays (for its deliveries) but is never read again."""

import datetime as dt
import functools
import uuid
from collections.abc import Collection
from dataclasses import dataclass

import asyncpg

from schemas.ids import ActorId, OrganisationId, SubscriptionId
from services.notifier.domain.subscriptions import Subscription, SubscriptionKind
from services.notifier.sealing import CannotOpen, SecretBox
from services.plumbing.database import Connection
from services.plumbing.key_rotation import Batch, SealedColumn, Unopenable, reseal_batch

_COLUMNS = """subscription_id, organisation_id, kind, url, address, event_types, paused,
              created_at, updated_at"""


def _subscription(row: asyncpg.Record) -> Subscription:
    return Subscription(
        subscription_id=SubscriptionId(row["subscription_id"]),
        organisation_id=OrganisationId(row["organisation_id"]),
        kind=SubscriptionKind(row["kind"]),
        url=row["url"],
        address=row["address"],
        event_types=frozenset(row["event_types"]),
        paused=row["paused"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def add(
    connection: Connection,
    subscription: Subscription,
    *,
    sealed_secret: bytes | None,
    created_by: ActorId,
) -> None:
    await connection.execute(
        """INSERT INTO subscriptions (subscription_id, organisation_id, kind, url, address,
               event_types, secret_ciphertext, paused, created_by, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        subscription.subscription_id,
        subscription.organisation_id,
        subscription.kind.value,
        subscription.url,
        subscription.address,
        sorted(subscription.event_types),
        sealed_secret,
        subscription.paused,
        created_by,
        subscription.created_at,
        subscription.updated_at,
    )


async def get(
    connection: Connection, organisation_id: OrganisationId, subscription_id: uuid.UUID
) -> Subscription | None:
    """The organisation's live subscription, or None (also when it is another's)."""
    row = await connection.fetchrow(
        f"""SELECT {_COLUMNS} FROM subscriptions
            WHERE subscription_id = $1 AND organisation_id = $2 AND deleted_at IS NULL""",  # noqa: S608
        subscription_id,
        organisation_id,
    )
    return None if row is None else _subscription(row)


async def sealed_secret(connection: Connection, subscription_id: uuid.UUID) -> bytes | None:
    value: bytes | None = await connection.fetchval(
        "SELECT secret_ciphertext FROM subscriptions WHERE subscription_id = $1",
        subscription_id,
    )
    return value


async def page(
    connection: Connection,
    organisation_id: OrganisationId,
    *,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Subscription]:
    """The organisation's live subscriptions, oldest first, after a keyset position."""
    rows = await connection.fetch(
        f"""SELECT {_COLUMNS} FROM subscriptions
            WHERE organisation_id = $1 AND deleted_at IS NULL
              AND ($2::timestamptz IS NULL OR (created_at, subscription_id) > ($2, $3))
            ORDER BY created_at, subscription_id
            LIMIT $4""",  # noqa: S608
        organisation_id,
        None if after is None else after[0],
        None if after is None else after[1],
        limit,
    )
    return [_subscription(row) for row in rows]


async def set_paused(
    connection: Connection,
    organisation_id: OrganisationId,
    subscription_id: uuid.UUID,
    *,
    paused: bool,
    now: dt.datetime,
) -> Subscription | None:
    row = await connection.fetchrow(
        f"""UPDATE subscriptions SET paused = $3, updated_at = $4
            WHERE subscription_id = $1 AND organisation_id = $2 AND deleted_at IS NULL
            RETURNING {_COLUMNS}""",  # noqa: S608
        subscription_id,
        organisation_id,
        paused,
        now,
    )
    return None if row is None else _subscription(row)


async def delete(
    connection: Connection,
    organisation_id: OrganisationId,
    subscription_id: uuid.UUID,
    *,
    now: dt.datetime,
) -> bool:
    """Marks it deleted, wipes its secret and cancels its pending deliveries; False when the
    organisation has no such live subscription."""
    deleted = await connection.fetchval(
        """UPDATE subscriptions SET deleted_at = $3, updated_at = $3, secret_ciphertext = NULL
           WHERE subscription_id = $1 AND organisation_id = $2 AND deleted_at IS NULL
           RETURNING true""",
        subscription_id,
        organisation_id,
        now,
    )
    if not deleted:
        return False
    await connection.execute(
        """UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL,
               lease_token = NULL, lease_until = NULL, updated_at = $2
           WHERE subscription_id = $1 AND status IN ('pending', 'dead_lettered')""",
        subscription_id,
        now,
    )
    return True


async def wanting(
    connection: Connection, organisation_ids: Collection[OrganisationId], event_type: str
) -> list[Subscription]:
    """The live, unpaused subscriptions of these organisations that want this event type."""
    if not organisation_ids:
        return []
    rows = await connection.fetch(
        f"""SELECT {_COLUMNS} FROM subscriptions
            WHERE organisation_id = ANY($1::uuid[]) AND deleted_at IS NULL AND NOT paused
              AND $2 = ANY(event_types)""",  # noqa: S608
        list(organisation_ids),
        event_type,
    )
    return [_subscription(row) for row in rows]


# Each webhook subscription's signing secret, sealed by the secret key (NULL for e-mail).
SIGNING_SECRETS = SealedColumn("subscriptions", "subscription_id", "secret_ciphertext")


@dataclass(frozen=True)
class SecretSealing:
    """The secret box as a secret key rotation needs it."""

    box: SecretBox

    def sealed_by_current_key(self, sealed: bytes, row_id: uuid.UUID) -> bool:
        return self.box.sealed_by_key(sealed, row_id)

    def reseal(self, sealed: bytes, row_id: uuid.UUID) -> bytes:
        try:
            return self.box.seal(self.box.open(sealed, row_id), row_id)
        except CannotOpen:
            raise Unopenable from None


def reseal_secrets(box: SecretBox) -> Batch:
    """One batch of a secret key rotation: the next subscriptions' secrets, sealed anew."""
    return functools.partial(reseal_batch, where=SIGNING_SECRETS, sealer=SecretSealing(box))
