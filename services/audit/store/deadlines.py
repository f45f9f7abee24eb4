"""Deadlines of referrals: one row per (referral, kind, occurrence), locked while a notice of
it is raised (see migration 0004_deadlines.sql)."""

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field, replace

import asyncpg

from schemas.deadlines import DeadlineKind
from schemas.directory import ServiceLevels
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


@dataclass
class DeadlineBook:
    """The deadlines of a batch of referrals, read at once (their unended ones locked), changed
    in memory step by step, and written back at once: a few round trips for a whole batch of
    referral events instead of a few for each."""

    agreements: dict[ReferralId, tuple[AgreementId, int]]
    # Each referral's unended deadlines, by kind and occurrence, as they are now.
    unended: dict[ReferralId, list[Deadline]]
    # The last occurrence of each kind of each referral's deadlines, ended ones included.
    occurrences: dict[tuple[ReferralId, DeadlineKind], int]
    levels: dict[tuple[AgreementId, int], ServiceLevels]
    # What the steps said of each referral: its agreement version and its sender.
    followed: dict[ReferralId, tuple[tuple[AgreementId, int], OrganisationId | None]] = field(
        default_factory=dict
    )
    opened: dict[tuple[ReferralId, DeadlineKind, int], Deadline] = field(default_factory=dict)
    changed: dict[tuple[ReferralId, DeadlineKind, int], Deadline] = field(default_factory=dict)

    @classmethod
    async def load(
        cls,
        connection: Connection,
        referrals: Collection[ReferralId],
        agreements: Collection[tuple[AgreementId, int]] = (),
    ) -> "DeadlineBook":
        """The referrals' deadlines (unended ones locked until the transaction ends) and
        agreements, and the service levels of those agreements and of `agreements`."""
        ids = sorted(set(referrals))
        followed = {
            ReferralId(row["referral_id"]): (
                AgreementId(row["agreement_id"]),
                row["agreement_version"],
            )
            for row in await connection.fetch(
                """SELECT referral_id, agreement_id, agreement_version FROM deadline_referrals
                   WHERE referral_id = ANY($1::uuid[])""",
                ids,
            )
        }
        unended: dict[ReferralId, list[Deadline]] = {}
        for row in await connection.fetch(
            f"""SELECT {_COLUMNS} FROM deadlines
                WHERE referral_id = ANY($1::uuid[]) AND met_at IS NULL AND closed_at IS NULL
                ORDER BY referral_id, kind, occurrence
                FOR UPDATE""",  # noqa: S608 (a fixed column list)
            ids,
        ):
            deadline = _deadline(row)
            unended.setdefault(deadline.referral_id, []).append(deadline)
        occurrences = {
            (ReferralId(row["referral_id"]), DeadlineKind(row["kind"])): row["last"]
            for row in await connection.fetch(
                """SELECT referral_id, kind, max(occurrence) AS last FROM deadlines
                   WHERE referral_id = ANY($1::uuid[]) GROUP BY referral_id, kind""",
                ids,
            )
        }
        wanted = sorted(set(followed.values()) | set(agreements))
        levels = {
            (AgreementId(row["agreement_id"]), row["version"]): ServiceLevels.model_validate_json(
                row["service_levels"]
            )
            for row in await connection.fetch(
                """SELECT v.agreement_id, v.version, v.service_levels::text AS service_levels
                   FROM directory_agreement_versions v
                   JOIN unnest($1::uuid[], $2::int[]) AS w(agreement_id, version)
                     USING (agreement_id, version)""",
                [agreement for agreement, _ in wanted],
                [version for _, version in wanted],
            )
        }
        return cls(followed, unended, occurrences, levels)

    def follow(
        self,
        referral_id: ReferralId,
        agreement: tuple[AgreementId, int],
        *,
        sender: OrganisationId | None,
    ) -> None:
        """The referral is under this agreement version from now on (and was sent by
        `sender`, which the statistics name its deadlines' routes by)."""
        self.agreements[referral_id] = agreement
        self.followed[referral_id] = (agreement, sender)

    def unended_of(self, referral_id: ReferralId) -> list[Deadline]:
        return list(self.unended.get(referral_id, ()))

    def update(self, deadline: Deadline) -> None:
        """A deadline of the book, changed."""
        kept = self.unended.get(deadline.referral_id, [])
        key = deadline.key
        at = next(i for i, d in enumerate(kept) if d.key == key)
        if deadline.ended_at is None:
            kept[at] = deadline
        else:
            del kept[at]
        if key in self.opened:
            self.opened[key] = deadline
        else:
            self.changed[key] = deadline

    def open(self, deadline: Deadline) -> Deadline:
        """Open the next occurrence of the deadline's kind for its referral (the `occurrence`
        of `deadline` is replaced); returns it as opened."""
        key = (deadline.referral_id, deadline.kind)
        occurrence = self.occurrences.get(key, 0) + 1
        self.occurrences[key] = occurrence
        opened = replace(deadline, occurrence=occurrence)
        self.opened[opened.key] = opened
        self.unended.setdefault(opened.referral_id, []).append(opened)
        return opened

    async def write(self, connection: Connection) -> None:
        """Write what the steps changed: agreements followed, deadlines opened and changed."""
        if self.followed:
            await connection.execute(
                """INSERT INTO deadline_referrals (referral_id, agreement_id, agreement_version,
                                                  sender_organisation_id)
                   SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::uuid[])
                   ON CONFLICT (referral_id) DO UPDATE
                       SET agreement_id = EXCLUDED.agreement_id,
                           agreement_version = EXCLUDED.agreement_version,
                           sender_organisation_id = EXCLUDED.sender_organisation_id""",
                list(self.followed),
                [agreement for (agreement, _), _ in self.followed.values()],
                [version for (_, version), _ in self.followed.values()],
                [sender for _, sender in self.followed.values()],
            )
        if self.opened:
            await connection.copy_records_to_table(
                "deadlines",
                columns=["deadline_id", *(c.strip() for c in _COLUMNS.split(","))],
                records=[_values(d) for d in self.opened.values()],
            )
        if self.changed:
            rows = list(self.changed.values())
            await connection.execute(
                """UPDATE deadlines d
                   SET due_at = u.due_at, met_at = u.met_at, closed_at = u.closed_at,
                       approaching_raised_at = u.approaching_raised_at,
                       missed_raised_at = u.missed_raised_at, met_raised_at = u.met_raised_at
                   FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[],
                               $4::timestamptz[], $5::timestamptz[], $6::timestamptz[],
                               $7::timestamptz[])
                       AS u(deadline_id, due_at, met_at, closed_at, approaching_raised_at,
                            missed_raised_at, met_raised_at)
                   WHERE d.deadline_id = u.deadline_id""",
                [d.deadline_id for d in rows],
                [d.due_at for d in rows],
                [d.met_at for d in rows],
                [d.closed_at for d in rows],
                [d.approaching_raised_at for d in rows],
                [d.missed_raised_at for d in rows],
                [d.met_raised_at for d in rows],
            )
        self.followed.clear()
        self.opened.clear()
        self.changed.clear()


def _values(deadline: Deadline) -> tuple[object, ...]:
    """A deadline's values: its id, then those of _COLUMNS in their order."""
    return (
        deadline.deadline_id,
        deadline.referral_id,
        deadline.kind.value,
        deadline.occurrence,
        deadline.subject_id,
        deadline.organisation_id,
        deadline.agreement_id,
        deadline.agreement_version,
        deadline.starts_at,
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
