"""Deliveries and their attempts: made once per (event, subscription), claimed by a worker
for a while (a lease), settled after each attempt, listed per organisation."""

import datetime as dt
import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg

from schemas.ids import DeliveryId, EventId, OrganisationId, SubscriptionId
from schemas.notifications import Channel
from services.notifier.domain.deliveries import AttemptResult, Delivery, DeliveryStatus
from services.plumbing.database import Connection

_COLUMNS = """d.delivery_id, d.event_id, d.event_type, d.subscription_id, d.organisation_id,
              d.channel, d.status, d.attempts, d.round_attempts, d.next_attempt_at,
              d.created_at, d.updated_at, d.last_failure"""


def _delivery(row: asyncpg.Record) -> Delivery:
    return Delivery(
        delivery_id=DeliveryId(row["delivery_id"]),
        event_id=EventId(row["event_id"]),
        event_type=row["event_type"],
        subscription_id=SubscriptionId(row["subscription_id"]),
        organisation_id=OrganisationId(row["organisation_id"]),
        channel=Channel(row["channel"]),
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        round_attempts=row["round_attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_failure=row["last_failure"],
    )


@dataclass(frozen=True)
class Claimed:
    """A delivery claimed for one attempt, with what the attempt needs."""

    delivery: Delivery
    lease_token: uuid.UUID
    body: str  # the CloudEvent in structured JSON mode
    url: str | None = None  # a webhook's
    sealed_secret: bytes | None = None  # a webhook's
    address: str | None = None  # an e-mail's
    # The trace of the event's handling (W3C headers): the attempt continues it.
    trace_context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Attempt:
    """One stored attempt."""

    attempt: int
    started_at: dt.datetime
    latency_ms: int
    outcome: str
    status_code: int | None
    failure: str | None
    error_class: str | None


async def save_event(
    connection: Connection,
    event_id: uuid.UUID,
    event_type: str,
    body: str,
    now: dt.datetime,
    trace_context: Mapping[str, str],
) -> None:
    """The event as its deliveries send it, with the trace they continue (W3C headers)."""
    await connection.execute(
        """INSERT INTO notified_events (event_id, event_type, body, received_at, trace_context)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING""",
        event_id,
        event_type,
        body,
        now,
        json.dumps(dict(trace_context)),
    )


# Delivery workers LISTEN here; a transaction that made deliveries NOTIFYs it as it commits.
NEW_DELIVERIES = "overgang_new_deliveries"


async def announce(connection: Connection) -> None:
    """Tell the delivery workers, once this transaction commits, that there are new
    deliveries (PostgreSQL sends one notice per transaction however often this is called)."""
    await connection.execute("SELECT pg_notify($1, '')", NEW_DELIVERIES)


async def add_all(connection: Connection, deliveries: Sequence[Delivery]) -> int:
    """Adds the deliveries not made before (per event and subscription); how many were new."""
    if not deliveries:
        return 0
    rows = await connection.fetch(
        """INSERT INTO deliveries (delivery_id, event_id, subscription_id, organisation_id,
               event_type, channel, status, next_attempt_at, created_at, updated_at)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[],
                                $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[],
                                $10::timestamptz[])
           ON CONFLICT (event_id, subscription_id) DO NOTHING
           RETURNING delivery_id""",
        [d.delivery_id for d in deliveries],
        [d.event_id for d in deliveries],
        [d.subscription_id for d in deliveries],
        [d.organisation_id for d in deliveries],
        [d.event_type for d in deliveries],
        [d.channel.value for d in deliveries],
        [d.status.value for d in deliveries],
        [d.next_attempt_at for d in deliveries],
        [d.created_at for d in deliveries],
        [d.updated_at for d in deliveries],
    )
    return len(rows)


async def due(
    connection: Connection,
    *,
    now: dt.datetime,
    busy: Collection[SubscriptionId],
    per_subscription: int,
    limit: int,
    channels: Collection[Channel],
) -> list[tuple[DeliveryId, SubscriptionId]]:
    """Candidates for the next attempts: due, unclaimed, through one of `channels`, of live
    unpaused subscriptions not in `busy`, at most `per_subscription` of each, earliest first."""
    rows = await connection.fetch(
        """WITH candidates AS (
               SELECT d.delivery_id, d.subscription_id, d.next_attempt_at,
                      row_number() OVER (PARTITION BY d.subscription_id
                                         ORDER BY d.next_attempt_at) AS place
               FROM deliveries d JOIN subscriptions s USING (subscription_id)
               WHERE d.status = 'pending' AND d.next_attempt_at <= $1
                 AND (d.lease_until IS NULL OR d.lease_until < $1)
                 AND d.channel = ANY($5::text[])
                 AND NOT s.paused AND s.deleted_at IS NULL
                 AND NOT (d.subscription_id = ANY($2::uuid[]))
           )
           SELECT delivery_id, subscription_id FROM candidates WHERE place <= $3
           ORDER BY next_attempt_at LIMIT $4""",
        now,
        list(busy),
        per_subscription,
        limit,
        [channel.value for channel in channels],
    )
    return [
        (DeliveryId(row["delivery_id"]), SubscriptionId(row["subscription_id"])) for row in rows
    ]


async def claim(
    connection: Connection,
    delivery_ids: Sequence[DeliveryId],
    *,
    now: dt.datetime,
    lease_until: dt.datetime,
) -> list[Claimed]:
    """Claims those of the deliveries that are still due and unclaimed (skipping rows another
    worker is claiming right now); each gets a lease token of its own."""
    rows = await connection.fetch(
        f"""UPDATE deliveries d SET lease_token = gen_random_uuid(), lease_until = $3
            FROM subscriptions s, notified_events e
            WHERE d.delivery_id IN (
                      SELECT delivery_id FROM deliveries
                      WHERE delivery_id = ANY($1::uuid[]) AND status = 'pending'
                        AND next_attempt_at <= $2
                        AND (lease_until IS NULL OR lease_until < $2)
                      FOR UPDATE SKIP LOCKED)
              AND s.subscription_id = d.subscription_id AND e.event_id = d.event_id
              AND s.deleted_at IS NULL
            RETURNING {_COLUMNS}, d.lease_token, s.url, s.secret_ciphertext, s.address,
                      e.body, e.trace_context""",  # noqa: S608
        list(delivery_ids),
        now,
        lease_until,
    )
    return [
        Claimed(
            delivery=_delivery(row),
            lease_token=row["lease_token"],
            body=row["body"],
            url=row["url"],
            sealed_secret=row["secret_ciphertext"],
            address=row["address"],
            trace_context=json.loads(row["trace_context"]),
        )
        for row in rows
    ]


async def get_leased(
    connection: Connection, delivery_id: DeliveryId, lease_token: uuid.UUID
) -> Delivery | None:
    """The delivery, locked, if this lease still holds it."""
    row = await connection.fetchrow(
        f"""SELECT {_COLUMNS} FROM deliveries d
            WHERE d.delivery_id = $1 AND d.lease_token = $2 AND d.status = 'pending'
            FOR UPDATE""",  # noqa: S608
        delivery_id,
        lease_token,
    )
    return None if row is None else _delivery(row)


async def get(
    connection: Connection,
    organisation_id: OrganisationId,
    delivery_id: uuid.UUID,
    *,
    lock: bool = False,
) -> Delivery | None:
    """The organisation's delivery, or None (also when it is another's)."""
    row = await connection.fetchrow(
        f"""SELECT {_COLUMNS} FROM deliveries d
            WHERE d.delivery_id = $1 AND d.organisation_id = $2
            {"FOR UPDATE" if lock else ""}""",  # noqa: S608
        delivery_id,
        organisation_id,
    )
    return None if row is None else _delivery(row)


async def update(connection: Connection, delivery: Delivery) -> None:
    """Writes the delivery's state and lets go of any lease on it."""
    await connection.execute(
        """UPDATE deliveries SET status = $2, attempts = $3, round_attempts = $4,
               next_attempt_at = $5, last_failure = $6, updated_at = $7,
               lease_token = NULL, lease_until = NULL
           WHERE delivery_id = $1""",
        delivery.delivery_id,
        delivery.status.value,
        delivery.attempts,
        delivery.round_attempts,
        delivery.next_attempt_at,
        delivery.last_failure,
        delivery.updated_at,
    )


async def release(connection: Connection, delivery_id: DeliveryId, lease_token: uuid.UUID) -> None:
    """Gives a claimed delivery back unattempted (e.g. the worker is stopping)."""
    await connection.execute(
        """UPDATE deliveries SET lease_token = NULL, lease_until = NULL
           WHERE delivery_id = $1 AND lease_token = $2""",
        delivery_id,
        lease_token,
    )


async def add_attempt(
    connection: Connection,
    delivery_id: DeliveryId,
    attempt: int,
    started_at: dt.datetime,
    result: AttemptResult,
) -> None:
    await connection.execute(
        """INSERT INTO delivery_attempts (delivery_id, attempt, started_at, latency_ms, outcome,
               status_code, failure, error_class)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        delivery_id,
        attempt,
        started_at,
        result.latency_ms,
        "delivered" if result.delivered else "failed",
        result.status_code,
        None if result.delivered else (result.failure.value if result.failure else "unknown"),
        None if result.error_class is None else result.error_class[:100],
    )


async def attempts_of(connection: Connection, delivery_id: uuid.UUID) -> list[Attempt]:
    rows = await connection.fetch(
        """SELECT attempt, started_at, latency_ms, outcome, status_code, failure, error_class
           FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt""",
        delivery_id,
    )
    return [
        Attempt(
            attempt=row["attempt"],
            started_at=row["started_at"],
            latency_ms=row["latency_ms"],
            outcome=row["outcome"],
            status_code=row["status_code"],
            failure=row["failure"],
            error_class=row["error_class"],
        )
        for row in rows
    ]


async def page(
    connection: Connection,
    organisation_id: OrganisationId,
    *,
    status: DeliveryStatus | None,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Delivery]:
    """The organisation's deliveries, oldest first, after a keyset position."""
    rows = await connection.fetch(
        f"""SELECT {_COLUMNS} FROM deliveries d
            WHERE d.organisation_id = $1
              AND ($2::text IS NULL OR d.status = $2)
              AND ($3::timestamptz IS NULL OR (d.created_at, d.delivery_id) > ($3, $4))
            ORDER BY d.created_at, d.delivery_id
            LIMIT $5""",  # noqa: S608
        organisation_id,
        None if status is None else status.value,
        None if after is None else after[0],
        None if after is None else after[1],
        limit,
    )
    return [_delivery(row) for row in rows]
