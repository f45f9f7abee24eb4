"""What the notifier remembers to route events that do not name their organisations."""

import datetime as dt

from schemas.ids import OrganisationId, ReferralId, SubjectId
from services.notifier.domain.routing import Known, KnownReferral, Lookups, Memory
from services.plumbing.database import Connection


async def load(connection: Connection, lookups: Lookups) -> Known:
    referrals: tuple[KnownReferral, ...] = ()
    parties: frozenset[OrganisationId] = frozenset()
    if lookups.subject_id is not None:
        rows = await connection.fetch(
            """SELECT referral_id, subject_id, organisations, open FROM referral_parties
               WHERE subject_id = $1""",
            lookups.subject_id,
        )
        referrals = tuple(
            KnownReferral(
                referral_id=ReferralId(row["referral_id"]),
                subject_id=SubjectId(row["subject_id"]),
                organisations=frozenset(OrganisationId(o) for o in row["organisations"]),
                open=row["open"],
            )
            for row in rows
        )
    if lookups.agreement_id is not None:
        found = await connection.fetchval(
            "SELECT parties FROM agreement_parties WHERE agreement_id = $1", lookups.agreement_id
        )
        parties = frozenset(OrganisationId(o) for o in found or ())
    return Known(referrals=referrals, agreement_parties=parties)


async def save(connection: Connection, memory: Memory, now: dt.datetime) -> None:
    for referral in memory.referrals:
        await connection.execute(
            """INSERT INTO referral_parties (referral_id, subject_id, organisations, open,
                   updated_at)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (referral_id) DO UPDATE
                   SET organisations = EXCLUDED.organisations, open = EXCLUDED.open,
                       updated_at = EXCLUDED.updated_at""",
            referral.referral_id,
            referral.subject_id,
            sorted(referral.organisations),
            referral.open,
            now,
        )
    if memory.agreement is not None:
        agreement_id, parties = memory.agreement
        await connection.execute(
            """INSERT INTO agreement_parties (agreement_id, parties, updated_at)
               VALUES ($1, $2, $3)
               ON CONFLICT (agreement_id) DO UPDATE
                   SET parties = EXCLUDED.parties, updated_at = EXCLUDED.updated_at""",
            agreement_id,
            sorted(parties),
            now,
        )
    if memory.forget_subject is not None:
        await connection.execute(
            "DELETE FROM referral_parties WHERE subject_id = $1", memory.forget_subject
        )
    if memory.forget_agreement is not None:
        await connection.execute(
            "DELETE FROM agreement_parties WHERE agreement_id = $1", memory.forget_agreement
        )
