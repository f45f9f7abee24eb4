"""The audit service's deadline events: whether a referral is overdue, for the worklists.

- Missed: the referral is overdue since the deadline fell due (the earliest such time, when
  it already was); only while it is open: a closed referral has nothing left to chase.
- Met: the referral stays overdue only while another of its deadlines is past due and unmet,
  which this service knows from the referral itself (its status, contacts and follow-ups, and
  its agreement version's service levels): overdue since the earliest of those, or no longer.
- Approaching: nothing here (the notifier reminds the organisation).
A deadline event about a referral this service does not have changes nothing."""

import datetime as dt
import logging
from collections.abc import Callable

from schemas.deadlines import DeadlineMetV1, DeadlineMissedV1
from schemas.envelope import CloudEvent, EventData
from schemas.ids import ReferralId
from services.plumbing.database import Connection
from services.referral.crypto import StoreKeys
from services.referral.domain.deadlines import open_deadlines
from services.referral.store import agreements, deadlines
from services.referral.store import referrals as store
from services.referral.store.errors import NotFound, SubjectErased

log = logging.getLogger(__name__)


async def handle_deadline(
    connection: Connection,
    data: EventData,
    event: CloudEvent,
    *,
    keys: StoreKeys,
    clock: Callable[[], dt.datetime],
) -> None:
    """Mark the referral overdue, or see whether it still is, in the consumer's transaction."""
    if isinstance(data, DeadlineMissedV1):
        if not await deadlines.mark_overdue(connection, data.referral_id, data.due_at):
            log.info(
                "event %s: referral %s is not open here; not marked overdue",
                event.id,
                data.referral_id,
            )
    elif isinstance(data, DeadlineMetV1):
        since = await _overdue_since(connection, data.referral_id, keys, clock())
        await deadlines.set_overdue_since(connection, data.referral_id, since)


async def _overdue_since(
    connection: Connection, referral_id: ReferralId, keys: StoreKeys, now: dt.datetime
) -> dt.datetime | None:
    """When the earliest deadline of the referral that is still unmet fell due, if one has."""
    try:
        referral = await store.get(connection, referral_id, keys)
    except (NotFound, SubjectErased):
        return None  # unknown here, or the person erased (their referrals are closed)
    if not referral.is_open:
        return None
    agreement = await agreements.get(connection, referral.agreement_id, referral.agreement_version)
    missed = [
        deadline.due_at
        for deadline in open_deadlines(referral, agreement.service_levels)
        if deadline.is_missed_at(now)
    ]
    return min(missed, default=None)
