"""Worklists of referrals, received or sent by an organisation, keyset-paginated: a page
continues after the last (time, referral_id) of the previous one, so rows added or changed
meanwhile never make a page skip or repeat one."""

import datetime as dt
from dataclasses import dataclass

from schemas.ids import ActorId, OrganisationId, ReferralId
from services.plumbing.database import Connection
from services.plumbing.pagination import decode_time_and_id, encode_time_and_id
from services.referral.domain.referral import Referral
from services.referral.domain.status import ReferralStatus
from services.referral.store import referrals

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the sort time and id of its last referral."""

    at: dt.datetime
    referral_id: ReferralId

    def encode(self) -> str:
        """Opaque text for the API's `cursor` parameter."""
        return encode_time_and_id(self.at, self.referral_id)

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        """The cursor of `encode`; plumbing's BadCursor for anything else."""
        position = decode_time_and_id(text)
        assert position is not None
        return cls(position[0], ReferralId(position[1]))


@dataclass(frozen=True)
class Page:
    """One page of a worklist (referrals without history, contacts or follow-ups) and the
    cursor of the next (None on the last page)."""

    referrals: list[Referral]
    next_cursor: Cursor | None


async def received(
    connection: Connection,
    organisation_id: OrganisationId,
    *,
    statuses: frozenset[ReferralStatus] | None = None,
    counsellor: ActorId | None = None,
    overdue_only: bool = False,
    after: Cursor | None = None,
    limit: int = 50,
) -> Page:
    """The referrals addressed to the organisation now, in the order they reached it."""
    return await _page(
        connection,
        "to_organisation_id",
        "addressed_at",
        organisation_id,
        statuses=statuses,
        counsellor=counsellor,
        overdue_only=overdue_only,
        after=after,
        limit=limit,
    )


async def sent(
    connection: Connection,
    organisation_id: OrganisationId,
    *,
    statuses: frozenset[ReferralStatus] | None = None,
    overdue_only: bool = False,
    after: Cursor | None = None,
    limit: int = 50,
) -> Page:
    """The referrals the organisation filed, in the order it filed them."""
    return await _page(
        connection,
        "from_organisation_id",
        "submitted_at",
        organisation_id,
        statuses=statuses,
        counsellor=None,
        overdue_only=overdue_only,
        after=after,
        limit=limit,
    )


async def _page(
    connection: Connection,
    organisation_column: str,
    time_column: str,
    organisation_id: OrganisationId,
    *,
    statuses: frozenset[ReferralStatus] | None,
    counsellor: ActorId | None,
    overdue_only: bool,
    after: Cursor | None,
    limit: int,
) -> Page:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"a page has 1 to {MAX_PAGE_SIZE} referrals")
    # The column names come from this module only, never from a caller.
    rows = await connection.fetch(
        f"""SELECT {referrals.COLUMNS}, {time_column} AS at FROM referrals
            WHERE {organisation_column} = $1
              AND ($2::text[] IS NULL OR status = ANY($2::text[]))
              AND ($3::uuid IS NULL OR assigned_counsellor = $3)
              AND (NOT $4 OR overdue_since IS NOT NULL)
              AND ($5::timestamptz IS NULL OR ({time_column}, referral_id) > ($5, $6::uuid))
            ORDER BY {time_column}, referral_id
            LIMIT $7""",  # noqa: S608
        organisation_id,
        None if statuses is None else sorted(status.value for status in statuses),
        counsellor,
        overdue_only,
        None if after is None else after.at,
        None if after is None else after.referral_id,
        limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    # One query: a worklist shows the referrals, not their histories or notes.
    found = [referrals.from_row(row) for row in rows]
    last = rows[-1] if more else None
    next_cursor = None if last is None else Cursor(last["at"], ReferralId(last["referral_id"]))
    return Page(found, next_cursor)
