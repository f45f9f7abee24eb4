"""Deadlines of referrals: one row per (referral, kind, occurrence), locked while a notice of
it is raised (see migration 0004_deadlines.sql)."""

import datetime as dt
import uuid
from dataclasses import dataclass, replace

import asyncpg

from schemas.deadlines import DeadlineKind
from schemas.ids import AgreementId, OrganisationId, ReferralId, SubjectId
from services.audit.domain.deadlines import Deadline
from services.plumbing.database import Connection

_COLUMNS = """referral_id, kind, occurrence, subject_id, organisation_id, agreement_id,
    agreement_version, starts_at, due_at, met_at, closed_at, approaching_raised_at,
    missed_raised_at, met_raised_at"""
_D_COLUMNS = ", ".join(f"d.{column.strip()}" for column in _COLUMNS.split(","))


def _deadline(row: asyncpg.Record) -> Deadline:
    return Deadline(
        referral_id=ReferralId(row["referral_id"]),
        kind=DeadlineKind(row["kind"]),
        occurrence=row["occurrence"],
        subject_id=SubjectId(row["subject_id"]),
        organisation_id=OrganisationId(row["organisation_id"]),
        agreement_id=AgreementId(row["agreement_id"]),
        agreement_version=row["agreement_version"],
        starts_at=row["starts_at"],
        due_at=row["due_at"],
        met_at=row["met_at"],
        closed_at=row["closed_at"],
        approaching_raised_at=row["approaching_raised_at"],
        missed_raised_at=row["missed_raised_at"],
        met_raised_at=row["met_raised_at"],
    )


async def migrated(connection: Connection) -> bool:
    """Whether the deadlines table exists yet (the scanner starts before the migrations)."""
    return bool(await connection.fetchval("SELECT to_regclass('deadlines') IS NOT NULL"))


async def follow(
    connection: Connection, referral_id: ReferralId, agreement_id: AgreementId, version: int
) -> None:
    """The referral is under this agreement version from now on."""
    await connection.execute(
        """INSERT INTO deadline_referrals (referral_id, agreement_id, agreement_version)
           VALUES ($1, $2, $3)
           ON CONFLICT (referral_id) DO UPDATE
               SET agreement_id = EXCLUDED.agreement_id,
                   agreement_version = EXCLUDED.agreement_version""",
        referral_id,
        agreement_id,
        version,
    )


async def agreement_of(
    connection: Connection, referral_id: ReferralId
) -> tuple[AgreementId, int] | None:
    """The agreement version the referral is under; None for a referral not followed."""
    row = await connection.fetchrow(
        "SELECT agreement_id, agreement_version FROM deadline_referrals WHERE referral_id = $1",
        referral_id,
    )
    return None if row is None else (AgreementId(row["agreement_id"]), row["agreement_version"])


async def lock_unended(connection: Connection, referral_id: ReferralId) -> list[Deadline]:
    """The referral's deadlines not met nor closed, locked until the transaction ends."""
    rows = await connection.fetch(
        f"""SELECT {_COLUMNS} FROM deadlines
            WHERE referral_id = $1 AND met_at IS NULL AND closed_at IS NULL
            ORDER BY kind, occurrence
            FOR UPDATE""",  # noqa: S608 (a fixed column list)
        referral_id,
    )
    return [_deadline(row) for row in rows]


async def lock_pending(
    connection: Connection, agreement_id: AgreementId, version: int
) -> list[Deadline]:
    """The deadlines under an agreement version that have no due time yet, locked."""
    rows = await connection.fetch(
        f"""SELECT {_COLUMNS} FROM deadlines
            WHERE agreement_id = $1 AND agreement_version = $2 AND due_at IS NULL
            ORDER BY deadline_id
            FOR UPDATE""",  # noqa: S608 (a fixed column list)
        agreement_id,
        version,
    )
    return [_deadline(row) for row in rows]


async def lock_watched(
    connection: Connection, *, due_before: dt.datetime, now: dt.datetime, limit: int
) -> list[Deadline]:
    """Deadlines that may approach or be missed: due no later than `due_before`, unmet,
    unclosed, not yet missed (nor approached, unless due by `now`), soonest first. Rows
    another scanner has locked are skipped: it is raising what is due of them."""
    rows = await connection.fetch(
        f"""SELECT {_COLUMNS} FROM deadlines
            WHERE due_at IS NOT NULL AND met_at IS NULL AND closed_at IS NULL
              AND missed_raised_at IS NULL
              AND due_at <= $1
              AND (approaching_raised_at IS NULL OR due_at <= $2)
            ORDER BY due_at, deadline_id
            LIMIT $3
            FOR UPDATE SKIP LOCKED""",  # noqa: S608 (a fixed column list)
        due_before,
        now,
        limit,
    )
    return [_deadline(row) for row in rows]


async def add(connection: Connection, deadline: Deadline) -> Deadline:
    """Open the next occurrence of the deadline's kind for its referral (the `occurrence` of
    `deadline` is replaced); returns it as added. Steps of one referral are handled one at a
    time (the audit log's head is locked by each), and the unique key refuses a second one."""
    occurrence: int = await connection.fetchval(
        """SELECT coalesce(max(occurrence), 0) + 1 FROM deadlines
           WHERE referral_id = $1 AND kind = $2""",
        deadline.referral_id,
        deadline.kind.value,
    )
    added = replace(deadline, occurrence=occurrence)
    await connection.execute(
        f"""INSERT INTO deadlines (deadline_id, {_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)""",  # noqa: S608 (a fixed column list)
        added.deadline_id,
        added.referral_id,
        added.kind.value,
        added.occurrence,
        added.subject_id,
        added.organisation_id,
        added.agreement_id,
        added.agreement_version,
        added.starts_at,
        added.due_at,
        added.met_at,
        added.closed_at,
        added.approaching_raised_at,
        added.missed_raised_at,
        added.met_raised_at,
    )
    return added


async def save(connection: Connection, deadline: Deadline) -> None:
    """Write what changed of a deadline read (and locked) in this transaction."""
    await connection.execute(
        """UPDATE deadlines
           SET due_at = $2, met_at = $3, closed_at = $4, approaching_raised_at = $5,
               missed_raised_at = $6, met_raised_at = $7
           WHERE deadline_id = $1""",
        deadline.deadline_id,
        deadline.due_at,
        deadline.met_at,
        deadline.closed_at,
        deadline.approaching_raised_at,
        deadline.missed_raised_at,
        deadline.met_raised_at,
    )


@dataclass(frozen=True)
class DeadlinePosition:
    """Where a page of deadlines ends (soonest due first)."""

    due_at: dt.datetime
    deadline_id: uuid.UUID


async def page(
    connection: Connection,
    *,
    county_number: str,
    organisation_id: uuid.UUID | None,
    open_: bool,
    missed: bool,
    after: DeadlinePosition | None,
    limit: int,
) -> list[Deadline]:
    """Deadlines of the county's organisations that are open (due, unmet, unclosed, not
    missed) and/or missed (met late or not), soonest due first, after `after`."""
    rows = await connection.fetch(
        f"""SELECT {_D_COLUMNS} FROM deadlines d
            JOIN directory_organisations o
              ON o.organisation_id = d.organisation_id AND o.county_number = $1
            WHERE d.due_at IS NOT NULL
              AND (($3 AND d.met_at IS NULL AND d.closed_at IS NULL
                       AND d.missed_raised_at IS NULL)
                   OR ($4 AND d.missed_raised_at IS NOT NULL))
              AND ($2::uuid IS NULL OR d.organisation_id = $2)
              AND ($5::timestamptz IS NULL OR (d.due_at, d.deadline_id) > ($5, $6::uuid))
            ORDER BY d.due_at, d.deadline_id
            LIMIT $7""",  # noqa: S608 (a fixed column list)
        county_number,
        organisation_id,
        open_,
        missed,
        None if after is None else after.due_at,
        None if after is None else after.deadline_id,
        limit,
    )
    return [_deadline(row) for row in rows]
