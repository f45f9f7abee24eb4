"""Consents: stored with the recipients and purposes they cover, and their withdrawal."""

import datetime as dt

import asyncpg

from schemas.codes import Purpose, Sector
from schemas.ids import ConsentId, OrganisationId, SubjectId
from schemas.person import CollectionMethod, ConsentGivenV1, ConsentGiver, ConsentWithdrawnV1
from services.plumbing.database import Connection
from services.referral.domain.consents import Consent
from services.referral.store.errors import AlreadyExists, NotFound
from services.referral.store.events import NewId, enqueue_all


async def save(
    connection: Connection, consent: Consent, *, new_id: NewId, now: dt.datetime
) -> None:
    """Store a new consent or its withdrawal, and enqueue the events it recorded."""
    events = list(consent.events)
    if any(isinstance(event, ConsentGivenV1) for event in events):
        try:
            await connection.execute(
                """INSERT INTO consents (consent_id, subject_id, given_by, purposes,
                       recipient_organisation_ids, recipient_sectors, given_at, expires_at,
                       collection_method, withdrawn_at, withdrawn_by, recorded_by_organisation_id)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
                consent.consent_id,
                consent.subject_id,
                consent.given_by.value,
                sorted(purpose.value for purpose in consent.purposes),
                sorted(consent.recipient_organisation_ids, key=str),
                sorted(sector.value for sector in consent.recipient_sectors),
                consent.given_at,
                consent.expires_at,
                consent.collection_method.value,
                consent.withdrawn_at,
                None if consent.withdrawn_by is None else consent.withdrawn_by.value,
                consent.recorded_by,
            )
        except asyncpg.UniqueViolationError as error:
            raise AlreadyExists(f"consent {consent.consent_id} is stored already") from error
    elif any(isinstance(event, ConsentWithdrawnV1) for event in events):
        assert consent.withdrawn_at is not None
        assert consent.withdrawn_by is not None
        # Withdrawn once: a second, concurrent withdrawal finds it withdrawn and changes nothing.
        changed = await connection.fetchval(
            """UPDATE consents SET withdrawn_at = $2, withdrawn_by = $3
               WHERE consent_id = $1 AND withdrawn_at IS NULL RETURNING true""",
            consent.consent_id,
            consent.withdrawn_at,
            consent.withdrawn_by.value,
        )
        if not changed:
            raise NotFound(f"no consent {consent.consent_id} that is not withdrawn")
    await enqueue_all(connection, events, new_id=new_id, now=now)
    consent.events.clear()


async def get(connection: Connection, consent_id: ConsentId, *, for_share: bool = False) -> Consent:
    """The consent; NotFound when there is none. `for_share` holds off its withdrawal until
    the caller's transaction ends, so that nothing new comes to rest on a consent that is
    being withdrawn."""
    lock = " FOR SHARE" if for_share else ""
    row = await connection.fetchrow(
        f"SELECT * FROM consents WHERE consent_id = $1{lock}",  # noqa: S608
        consent_id,
    )
    if row is None:
        raise NotFound(f"no consent {consent_id}")
    return _consent(row)


async def of_subject(connection: Connection, subject_id: SubjectId) -> list[Consent]:
    """Every consent of a person, oldest first."""
    rows = await connection.fetch(
        "SELECT * FROM consents WHERE subject_id = $1 ORDER BY given_at, consent_id", subject_id
    )
    return [_consent(row) for row in rows]


def _consent(row: asyncpg.Record) -> Consent:
    return Consent(
        consent_id=ConsentId(row["consent_id"]),
        subject_id=SubjectId(row["subject_id"]),
        given_by=ConsentGiver(row["given_by"]),
        purposes=frozenset(Purpose(purpose) for purpose in row["purposes"]),
        recipient_organisation_ids=frozenset(
            OrganisationId(organisation) for organisation in row["recipient_organisation_ids"]
        ),
        recipient_sectors=frozenset(Sector(sector) for sector in row["recipient_sectors"]),
        given_at=row["given_at"],
        expires_at=row["expires_at"],
        collection_method=CollectionMethod(row["collection_method"]),
        withdrawn_at=row["withdrawn_at"],
        withdrawn_by=None if row["withdrawn_by"] is None else ConsentGiver(row["withdrawn_by"]),
        recorded_by=(
            None
            if row["recorded_by_organisation_id"] is None
            else OrganisationId(row["recorded_by_organisation_id"])
        ),
    )
