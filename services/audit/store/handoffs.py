"""The referral steps the statistics read (see migration 0005_referral_steps.sql): the kept
steps of some referrals read at once, and the measured ones written at once."""

import uuid
from collections.abc import Collection, Sequence

from services.audit.domain.handoffs import HandoffStep, StepName
from services.plumbing.database import Connection


async def steps_of(
    connection: Connection, referral_ids: Collection[uuid.UUID]
) -> list[HandoffStep]:
    """Every kept step of the referrals, with its times as they were measured."""
    rows = await connection.fetch(
        """SELECT sequence, referral_id, step, occurred_at, receiver_organisation_id,
                  sender_organisation_id, code, receive_hours, decide_hours, contact_hours
           FROM referral_steps WHERE referral_id = ANY($1::uuid[])""",
        list(referral_ids),
    )
    return [
        HandoffStep(
            sequence=row["sequence"],
            referral_id=row["referral_id"],
            step=StepName(row["step"]),
            occurred_at=row["occurred_at"],
            receiver=row["receiver_organisation_id"],
            sender=row["sender_organisation_id"],
            code=row["code"],
            receive_hours=row["receive_hours"],
            decide_hours=row["decide_hours"],
            contact_hours=row["contact_hours"],
        )
        for row in rows
    ]


async def write(connection: Connection, steps: Sequence[HandoffStep]) -> None:
    """Add the new steps and set the times of those kept already, in one statement."""
    if not steps:
        return
    await connection.execute(
        """INSERT INTO referral_steps (sequence, referral_id, step, occurred_at,
                                       receiver_organisation_id, sender_organisation_id, code,
                                       receive_hours, decide_hours, contact_hours)
           SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::timestamptz[],
                                $5::uuid[], $6::uuid[], $7::text[], $8::float8[],
                                $9::float8[], $10::float8[])
           ON CONFLICT (sequence) DO UPDATE
               SET receive_hours = EXCLUDED.receive_hours,
                   decide_hours = EXCLUDED.decide_hours,
                   contact_hours = EXCLUDED.contact_hours""",
        [s.sequence for s in steps],
        [s.referral_id for s in steps],
        [s.step.value for s in steps],
        [s.occurred_at for s in steps],
        [s.receiver for s in steps],
        [s.sender for s in steps],
        [s.code for s in steps],
        [s.receive_hours for s in steps],
        [s.decide_hours for s in steps],
        [s.contact_hours for s in steps],
    )
