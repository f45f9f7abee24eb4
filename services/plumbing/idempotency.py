"""Idempotency-Key on creating requests, kept in the `idempotency_keys` table in the
transaction of the change: the first request claims the key and records its response; a retry
with the same request gets that response; the same key with another request is refused.

A claim waits on a concurrent, uncommitted claim of the same key (the primary key), so two
concurrent retries never both act; a request that fails rolls its claim back with its change.
Each service keeps its own `idempotency_keys` table (same columns) in its own database.

A key's fingerprint of the request is the caller's to make: the referral service keys it
(HMAC), because a body may hold an identity number."""

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from schemas.ids import ActorId, OrganisationId
from services.plumbing.database import Connection


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was used before for a different request."""

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was used for a different request; use a new key for a new request"
        )


@dataclass(frozen=True)
class IdempotencyScope:
    """A key is the caller's own: per organisation and actor."""

    organisation_id: OrganisationId
    actor_id: ActorId
    key: str


@dataclass(frozen=True)
class StoredResponse:
    """The first response to a request, as it is replayed."""

    status: int
    body: Any


async def claim(
    connection: Connection, scope: IdempotencyScope, request_hash: bytes, now: dt.datetime
) -> StoredResponse | None:
    """None when the key is new (now claimed by this transaction); the stored response when
    the same request was made before; IdempotencyKeyReused for another request."""
    claimed = await connection.fetchval(
        """INSERT INTO idempotency_keys (organisation_id, principal, key, request_hash,
               created_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT DO NOTHING RETURNING true""",
        scope.organisation_id,
        str(scope.actor_id),
        scope.key,
        request_hash,
        now,
    )
    if claimed:
        return None
    row = await connection.fetchrow(
        """SELECT request_hash, response_status, response_body FROM idempotency_keys
           WHERE organisation_id = $1 AND principal = $2 AND key = $3""",
        scope.organisation_id,
        str(scope.actor_id),
        scope.key,
    )
    if row is None or row["request_hash"] != request_hash or row["response_status"] is None:
        raise IdempotencyKeyReused()
    return StoredResponse(row["response_status"], json.loads(row["response_body"]))


async def record(connection: Connection, scope: IdempotencyScope, response: StoredResponse) -> None:
    """The response to a claimed key, for its retries."""
    await connection.execute(
        """UPDATE idempotency_keys SET response_status = $4, response_body = $5::jsonb
           WHERE organisation_id = $1 AND principal = $2 AND key = $3""",
        scope.organisation_id,
        str(scope.actor_id),
        scope.key,
        response.status,
        json.dumps(response.body),
    )
