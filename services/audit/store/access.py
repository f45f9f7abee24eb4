"""The access log: one row per access event (who read whose personal data, when and why)."""

import datetime as dt
import uuid
from dataclasses import dataclass

from schemas.access import PersonalDataAccessedV1
from services.plumbing.database import Connection


@dataclass(frozen=True)
class AccessRecord:
    access_id: uuid.UUID
    sequence: int
    actor_id: uuid.UUID
    actor_organisation_id: uuid.UUID
    actor_role: str
    subject_id: uuid.UUID
    purpose: str
    resource: str
    referral_id: uuid.UUID | None
    occurred_at: dt.datetime


@dataclass(frozen=True)
class AccessPosition:
    """Where a page of the access log ends (newest first)."""

    occurred_at: dt.datetime
    access_id: uuid.UUID


async def save(connection: Connection, data: PersonalDataAccessedV1, *, sequence: int) -> None:
    await connection.execute(
        """INSERT INTO access_log (access_id, sequence, actor_id, actor_organisation_id,
               actor_role, subject_id, purpose, resource, referral_id, occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (access_id) DO NOTHING""",
        data.access_id,
        sequence,
        data.actor.actor_id,
        data.actor.organisation_id,
        data.actor.role.value,
        data.subject_id,
        data.purpose.value,
        data.resource.value,
        data.referral_id,
        data.occurred_at,
    )


async def page(
    connection: Connection,
    *,
    county_number: str,
    subject_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    after: AccessPosition | None,
    limit: int,
) -> list[AccessRecord]:
    """Reads by users of the county's organisations, newest first, after `after`."""
    rows = await connection.fetch(
        """SELECT a.access_id, a.sequence, a.actor_id, a.actor_organisation_id, a.actor_role,
                  a.subject_id, a.purpose, a.resource, a.referral_id, a.occurred_at
           FROM access_log a
           JOIN directory_organisations o
             ON o.organisation_id = a.actor_organisation_id AND o.county_number = $1
           WHERE ($2::uuid IS NULL OR a.subject_id = $2)
             AND ($3::uuid IS NULL OR a.actor_id = $3)
             AND ($4::timestamptz IS NULL OR (a.occurred_at, a.access_id) < ($4, $5::uuid))
           ORDER BY a.occurred_at DESC, a.access_id DESC
           LIMIT $6""",
        county_number,
        subject_id,
        actor_id,
        None if after is None else after.occurred_at,
        None if after is None else after.access_id,
        limit,
    )
    return [AccessRecord(**dict(row)) for row in rows]
