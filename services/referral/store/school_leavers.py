"""What the consumer of inbound "pupil left school" events looks up: the school by its
organisation number, and whether the person already has an open referral for a purpose."""

from schemas.codes import Purpose
from schemas.ids import OrganisationId, SubjectId
from services.plumbing.database import Connection
from services.referral.domain.status import OPEN_STATUSES

_OPEN = sorted(status.value for status in OPEN_STATUSES)


async def organisation_with_number(
    connection: Connection, organisation_number: str
) -> OrganisationId | None:
    """The organisation registered under the organisation number, if any."""
    found = await connection.fetchval(
        "SELECT organisation_id FROM organisations WHERE organisation_number = $1",
        organisation_number,
    )
    return None if found is None else OrganisationId(found)


async def lock_subject(connection: Connection, subject_id: SubjectId) -> None:
    """Hold the person's row until the transaction ends, so that two reports about the same
    person, handled at once, decide one after the other whether a referral is open."""
    await connection.execute("SELECT 1 FROM subjects WHERE subject_id = $1 FOR UPDATE", subject_id)


async def has_open_referral(
    connection: Connection, subject_id: SubjectId, purpose: Purpose
) -> bool:
    """Whether the person has a referral for the purpose that is still open, whoever sent it
    and wherever it is now."""
    found = await connection.fetchval(
        """SELECT true FROM referrals
           WHERE subject_id = $1 AND purpose = $2 AND status = ANY($3::text[]) LIMIT 1""",
        subject_id,
        purpose.value,
        _OPEN,
    )
    return bool(found)
