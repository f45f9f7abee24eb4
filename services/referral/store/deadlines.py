"""Whether a referral is overdue: `referrals.overdue_since`, which the audit service's deadline
events set and clear and the worklists filter on. Only this module writes it; saving a
referral never does."""

import datetime as dt

from schemas.ids import ReferralId
from services.plumbing.database import Connection
from services.referral.domain.status import OPEN_STATUSES

_OPEN = sorted(status.value for status in OPEN_STATUSES)


async def mark_overdue(connection: Connection, referral_id: ReferralId, since: dt.datetime) -> bool:
    """The referral is overdue since `since` (or since earlier, if it already was); only an
    open referral, since a closed one has nothing left to do. False when there is no open
    referral with this id."""
    changed = await connection.fetchval(
        """UPDATE referrals SET overdue_since = LEAST(coalesce(overdue_since, $2), $2)
           WHERE referral_id = $1 AND status = ANY($3::text[]) RETURNING true""",
        referral_id,
        since,
        _OPEN,
    )
    return bool(changed)


async def set_overdue_since(
    connection: Connection, referral_id: ReferralId, since: dt.datetime | None
) -> None:
    """Set (or, with None, clear) when the referral became overdue."""
    await connection.execute(
        "UPDATE referrals SET overdue_since = $2 WHERE referral_id = $1", referral_id, since
    )
