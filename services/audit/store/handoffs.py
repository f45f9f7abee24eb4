"""The referral steps the statistics read (see migration 0005_referral_steps.sql): the kept
steps of some referrals read at once, and the measured ones written at once: new steps
copied in, the times of kept ones set."""

import uuid
from collections.abc import Collection, Sequence

from services.audit.domain.handoffs import HandoffStep, StepName
from services.plumbing.database import Connection

_COLUMNS = """sequence, referral_id, step, occurred_at, receiver_organisation_id,
    sender_organisation_id, code, receive_hours, decide_hours, contact_hours"""


async def steps_of(
    connection: Connection, referral_ids: Collection[uuid.UUID]
) -> list[HandoffStep]:
    """Every kept step of the referrals, with its times as they were measured."""
    rows = await connection.fetch(
        f"""SELECT {_COLUMNS} FROM referral_steps
            WHERE referral_id = ANY($1::uuid[])""",  # noqa: S608 (a fixed column list)
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


async def add(connection: Connection, steps: Sequence[HandoffStep]) -> None:
    """Add steps just logged (their sequences are new), at once."""
    if not steps:
        return
    await connection.copy_records_to_table(
        "referral_steps",
        columns=[column.strip() for column in _COLUMNS.split(",")],
        records=[
            (
                s.sequence,
                s.referral_id,
                s.step.value,
                s.occurred_at,
                s.receiver,
                s.sender,
                s.code,
                s.receive_hours,
                s.decide_hours,
                s.contact_hours,
            )
            for s in steps
        ],
    )


async def set_times(connection: Connection, steps: Sequence[HandoffStep]) -> None:
    """Set the times of steps kept already, at once."""
    if not steps:
        return
    await connection.execute(
        """UPDATE referral_steps s
           SET receive_hours = u.receive_hours, decide_hours = u.decide_hours,
               contact_hours = u.contact_hours
           FROM unnest($1::bigint[], $2::float8[], $3::float8[], $4::float8[])
               AS u(sequence, receive_hours, decide_hours, contact_hours)
           WHERE s.sequence = u.sequence""",
        [s.sequence for s in steps],
        [s.receive_hours for s in steps],
        [s.decide_hours for s in steps],
        [s.contact_hours for s in steps],
    )
