"""Referrals: the aggregate with its history, contacts and follow-ups; saved under an
optimistic version check together with its events in the outbox. A step's free-text note is
about the person, so it is kept sealed under the person's data key (see crypto.py)."""

import datetime as dt
import typing
from collections.abc import Callable
from typing import TypeVar

import asyncpg

from schemas.codes import Purpose, Role
from schemas.directory import Situation
from schemas.ids import (
    ActorId,
    AgreementId,
    ConsentId,
    ContactId,
    FollowUpId,
    OrganisationId,
    ReferralId,
    SubjectId,
)
from schemas.referrals import (
    CancellationReason,
    ContactMethod,
    ContactResult,
    Outcome,
    ReferralContactRecordedV1,
    ReferralEvent,
    ReferralFollowUpRecordedV1,
    RejectionReason,
    StatutoryBasis,
    WithdrawalReason,
)
from services.plumbing.database import Connection
from services.referral import crypto
from services.referral.crypto import StoreKeys
from services.referral.domain.errors import StaleVersion
from services.referral.domain.records import Contact, FollowUp, HistoryEntry
from services.referral.domain.referral import Referral
from services.referral.domain.status import OPEN_STATUSES, ReferralStatus
from services.referral.store import subjects
from services.referral.store.errors import NotFound, SubjectErased
from services.referral.store.events import NewId, enqueue_all

_EVENT_TYPES: dict[str, type[ReferralEvent]] = {
    event_type.ce_type: event_type for event_type in typing.get_args(ReferralEvent)
}
_T = TypeVar("_T")


async def save(
    connection: Connection,
    referral: Referral,
    *,
    expected_version: int,
    new_id: NewId,
    now: dt.datetime,
    keys: StoreKeys,
) -> None:
    """Store what changed since `expected_version` (0: a new referral) and enqueue its events,
    in the caller's transaction; notes are sealed under the person's key. StaleVersion when
    the stored referral is not at that version: someone else changed it since it was loaded,
    and nothing is written."""
    values = _values(referral)
    if expected_version == 0:
        inserted = await connection.fetchval(
            """INSERT INTO referrals (referral_id, subject_id, from_organisation_id,
               to_organisation_id, purpose, situation,
               agreement_id, agreement_version, consent_id, statutory_basis, status, version,
               submitted_at, addressed_at, received_at, accepted_at, started_at, closed_at,
               assigned_counsellor, assigned_role, rejection_reason, withdrawal_reason,
               cancellation_reason, outcome)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                       $16, $17, $18, $19, $20, $21, $22, $23, $24)
               ON CONFLICT (referral_id) DO NOTHING RETURNING true""",
            *values,
        )
        if not inserted:
            raise StaleVersion(expected=0, actual=await _version(connection, referral.referral_id))
    else:
        # The id and the person never change; the version check is the optimistic lock.
        changed = await connection.fetchval(
            """UPDATE referrals SET
                   from_organisation_id = $3, to_organisation_id = $4, purpose = $5,
                   situation = $6, agreement_id = $7, agreement_version = $8, consent_id = $9,
                   statutory_basis = $10, status = $11, version = $12, submitted_at = $13,
                   addressed_at = $14, received_at = $15, accepted_at = $16, started_at = $17,
                   closed_at = $18, assigned_counsellor = $19, assigned_role = $20,
                   rejection_reason = $21, withdrawal_reason = $22, cancellation_reason = $23,
                   outcome = $24
               WHERE referral_id = $1 AND subject_id = $2 AND version = $25
               RETURNING true""",
            *values,
            expected_version,
        )
        if not changed:
            raise StaleVersion(
                expected=expected_version,
                actual=await _version(connection, referral.referral_id),
            )
    await _append_records(connection, referral, expected_version, keys)
    await enqueue_all(connection, referral.drain_events(), new_id=new_id, now=now)


async def _version(connection: Connection, referral_id: ReferralId) -> int:
    version = await connection.fetchval(
        "SELECT version FROM referrals WHERE referral_id = $1", referral_id
    )
    if version is None:
        raise NotFound(f"no referral {referral_id}")
    return int(version)


async def _append_records(
    connection: Connection, referral: Referral, expected_version: int, keys: StoreKeys
) -> None:
    new_entries = [entry for entry in referral.history if entry.version > expected_version]
    data_key = (
        await subjects.data_key(connection, referral.subject_id, keys)
        if any(entry.note is not None for entry in new_entries)
        else b""
    )

    def sealed(note: str | None) -> bytes | None:
        return None if note is None else crypto.encrypt(note, data_key, referral.subject_id)

    if new_entries:
        await connection.executemany(
            """INSERT INTO referral_history (referral_id, version, event_type, event,
                   sealed_note, occurred_at)
               VALUES ($1, $2, $3, $4::jsonb, $5, $6)""",
            [
                (
                    referral.referral_id,
                    entry.version,
                    entry.event.ce_type,
                    entry.event.model_dump_json(),
                    sealed(entry.note),
                    entry.event.occurred_at,
                )
                for entry in new_entries
            ],
        )
    # Contacts and follow-ups are append-only, and each is recorded by a step of its own; the
    # version check above already serialises writers, so only those of the new steps are new.
    new_events = [entry.event for entry in new_entries]
    contact_ids = {
        event.contact_id for event in new_events if isinstance(event, ReferralContactRecordedV1)
    }
    new_contacts = [contact for contact in referral.contacts if contact.contact_id in contact_ids]
    if new_contacts:
        await connection.executemany(
            """INSERT INTO referral_contacts (contact_id, referral_id, method, result,
                   recorded_at, recorded_by)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (contact_id) DO NOTHING""",
            [
                (
                    contact.contact_id,
                    referral.referral_id,
                    contact.method.value,
                    contact.result.value,
                    contact.recorded_at,
                    contact.recorded_by,
                )
                for contact in new_contacts
            ],
        )
    follow_up_ids = {
        event.follow_up_id for event in new_events if isinstance(event, ReferralFollowUpRecordedV1)
    }
    new_follow_ups = [
        follow_up for follow_up in referral.follow_ups if follow_up.follow_up_id in follow_up_ids
    ]
    if new_follow_ups:
        await connection.executemany(
            """INSERT INTO referral_follow_ups (follow_up_id, referral_id, method, recorded_at,
                   recorded_by)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (follow_up_id) DO NOTHING""",
            [
                (
                    follow_up.follow_up_id,
                    referral.referral_id,
                    follow_up.method.value,
                    follow_up.recorded_at,
                    follow_up.recorded_by,
                )
                for follow_up in new_follow_ups
            ],
        )


def _values(referral: Referral) -> list[object]:
    def code(value: object | None) -> str | None:
        return None if value is None else str(value)

    return [
        referral.referral_id,
        referral.subject_id,
        referral.from_organisation_id,
        referral.to_organisation_id,
        referral.purpose.value,
        referral.situation.value,
        referral.agreement_id,
        referral.agreement_version,
        referral.consent_id,
        code(referral.statutory_basis),
        referral.status.value,
        referral.version,
        referral.submitted_at,
        referral.addressed_at,
        referral.received_at,
        referral.accepted_at,
        referral.started_at,
        referral.closed_at,
        referral.assigned_counsellor,
        code(referral.assigned_role),
        code(referral.rejection_reason),
        code(referral.withdrawal_reason),
        code(referral.cancellation_reason),
        code(referral.outcome),
    ]


COLUMNS = """referral_id, subject_id, from_organisation_id, to_organisation_id, purpose,
    situation, agreement_id, agreement_version, consent_id, statutory_basis, status, version,
    submitted_at, addressed_at, received_at, accepted_at, started_at, closed_at,
    assigned_counsellor, assigned_role, rejection_reason, withdrawal_reason,
    cancellation_reason, outcome, overdue_since"""


# The referral's own columns, qualified for `get`'s joins.
_REFERRAL_COLUMNS = ", ".join(f"r.{name.strip()}" for name in COLUMNS.split(","))
# The referral, its person's key, and its history, contacts and follow-ups as one row: each
# list as parallel arrays (NULL when empty), in the order they are read back.
_GET = f"""SELECT {_REFERRAL_COLUMNS},
           s.subject_id IS NOT NULL AS subject_found, s.wrapped_key, s.erased_at,
           h.versions, h.event_types, h.events, h.sealed_notes,
           c.contact_ids, c.contact_methods, c.contact_results, c.contacts_recorded_at,
           c.contacts_recorded_by,
           f.follow_up_ids, f.follow_up_methods, f.follow_ups_recorded_at,
           f.follow_ups_recorded_by
    FROM referrals r
    LEFT JOIN subjects s ON s.subject_id = r.subject_id
    CROSS JOIN LATERAL (
        SELECT array_agg(version ORDER BY version) AS versions,
               array_agg(event_type ORDER BY version) AS event_types,
               array_agg(event ORDER BY version) AS events,
               array_agg(sealed_note ORDER BY version) AS sealed_notes
        FROM referral_history WHERE referral_id = r.referral_id) h
    CROSS JOIN LATERAL (
        SELECT array_agg(contact_id ORDER BY recorded_at, contact_id) AS contact_ids,
               array_agg(method ORDER BY recorded_at, contact_id) AS contact_methods,
               array_agg(result ORDER BY recorded_at, contact_id) AS contact_results,
               array_agg(recorded_at ORDER BY recorded_at, contact_id) AS contacts_recorded_at,
               array_agg(recorded_by ORDER BY recorded_at, contact_id) AS contacts_recorded_by
        FROM referral_contacts WHERE referral_id = r.referral_id) c
    CROSS JOIN LATERAL (
        SELECT array_agg(follow_up_id ORDER BY recorded_at, follow_up_id) AS follow_up_ids,
               array_agg(method ORDER BY recorded_at, follow_up_id) AS follow_up_methods,
               array_agg(recorded_at ORDER BY recorded_at, follow_up_id)
                   AS follow_ups_recorded_at,
               array_agg(recorded_by ORDER BY recorded_at, follow_up_id)
                   AS follow_ups_recorded_by
        FROM referral_follow_ups WHERE referral_id = r.referral_id) f
    WHERE r.referral_id = $1"""  # noqa: S608


async def get(
    connection: Connection, referral_id: ReferralId, keys: StoreKeys, *, for_update: bool = False
) -> Referral:
    """The referral with its history (notes opened), contacts and follow-ups; NotFound when
    there is none, SubjectErased when the person's key is destroyed. `for_update` locks it
    until the caller's transaction ends."""
    row = await connection.fetchrow(_GET + (" FOR UPDATE OF r" if for_update else ""), referral_id)
    if row is not None and for_update and _last_version(row) != row["version"]:
        # The lock waited for a change that committed meanwhile: the statement returns the
        # changed referral row but reads the other tables as they were before that change
        # (read committed re-checks only the locked row). Now that the lock is held, a second
        # read sees the change whole.
        row = await connection.fetchrow(_GET, referral_id)
    if row is None:
        raise NotFound(f"no referral {referral_id}")
    subject_id = SubjectId(row["subject_id"])
    if not row["subject_found"]:
        raise NotFound(f"no subject {subject_id}")
    if row["erased_at"] is not None:
        raise SubjectErased(f"subject {subject_id} was erased")
    data_key = keys.unwrap(row["wrapped_key"], subject_id)
    referral = from_row(row)
    referral.history = [
        HistoryEntry(
            version,
            _EVENT_TYPES[event_type].model_validate_json(event),
            None if sealed_note is None else crypto.decrypt(sealed_note, data_key, subject_id),
        )
        for version, event_type, event, sealed_note in zip(
            *_lists(row, "versions", "event_types", "events", "sealed_notes"), strict=True
        )
    ]
    referral.contacts = [
        Contact(
            ContactId(contact_id),
            ContactMethod(method),
            ContactResult(result),
            recorded_at,
            ActorId(recorded_by),
        )
        for contact_id, method, result, recorded_at, recorded_by in zip(
            *_lists(
                row,
                "contact_ids",
                "contact_methods",
                "contact_results",
                "contacts_recorded_at",
                "contacts_recorded_by",
            ),
            strict=True,
        )
    ]
    referral.follow_ups = [
        FollowUp(FollowUpId(follow_up_id), ContactMethod(method), recorded_at, ActorId(recorded_by))
        for follow_up_id, method, recorded_at, recorded_by in zip(
            *_lists(
                row,
                "follow_up_ids",
                "follow_up_methods",
                "follow_ups_recorded_at",
                "follow_ups_recorded_by",
            ),
            strict=True,
        )
    ]
    return referral


def _last_version(row: asyncpg.Record) -> int:
    """The version of the last step in `row`'s history (each step adds one version)."""
    versions: list[int] | None = row["versions"]
    return versions[-1] if versions else 0


def _lists(row: asyncpg.Record, *columns: str) -> list[list[typing.Any]]:
    """`row`'s array columns as lists (an aggregate of no rows is NULL)."""
    return [row[column] or [] for column in columns]


def from_row(row: asyncpg.Record) -> Referral:
    """The referral of a row with `COLUMNS`, without its history, contacts and follow-ups."""

    def optional(make: Callable[[str], _T], column: str) -> _T | None:
        value = row[column]
        return None if value is None else make(value)

    return Referral(
        referral_id=ReferralId(row["referral_id"]),
        subject_id=SubjectId(row["subject_id"]),
        from_organisation_id=OrganisationId(row["from_organisation_id"]),
        to_organisation_id=OrganisationId(row["to_organisation_id"]),
        purpose=Purpose(row["purpose"]),
        situation=Situation(row["situation"]),
        agreement_id=AgreementId(row["agreement_id"]),
        agreement_version=row["agreement_version"],
        consent_id=None if row["consent_id"] is None else ConsentId(row["consent_id"]),
        statutory_basis=optional(StatutoryBasis, "statutory_basis"),
        status=ReferralStatus(row["status"]),
        version=row["version"],
        submitted_at=row["submitted_at"],
        addressed_at=row["addressed_at"],
        received_at=row["received_at"],
        accepted_at=row["accepted_at"],
        started_at=row["started_at"],
        closed_at=row["closed_at"],
        assigned_counsellor=(
            None if row["assigned_counsellor"] is None else ActorId(row["assigned_counsellor"])
        ),
        assigned_role=optional(Role, "assigned_role"),
        rejection_reason=optional(RejectionReason, "rejection_reason"),
        withdrawal_reason=optional(WithdrawalReason, "withdrawal_reason"),
        cancellation_reason=optional(CancellationReason, "cancellation_reason"),
        outcome=optional(Outcome, "outcome"),
        overdue_since=row["overdue_since"],
    )


async def open_depending_on_consent(
    connection: Connection, consent_id: ConsentId, keys: StoreKeys
) -> list[Referral]:
    """The open referrals that name the consent, locked for the withdrawal's transaction."""
    ids = await connection.fetch(
        """SELECT referral_id FROM referrals
           WHERE consent_id = $1 AND status = ANY($2::text[])
           ORDER BY referral_id FOR UPDATE""",
        consent_id,
        sorted(status.value for status in OPEN_STATUSES),
    )
    return [await get(connection, ReferralId(row["referral_id"]), keys) for row in ids]


async def of_subject(
    connection: Connection, subject_id: SubjectId, keys: StoreKeys
) -> list[Referral]:
    """Every referral of the person, oldest first, with its history; SubjectErased after
    erasure."""
    rows = await connection.fetch(
        "SELECT referral_id FROM referrals WHERE subject_id = $1"
        " ORDER BY submitted_at, referral_id",
        subject_id,
    )
    return [await get(connection, ReferralId(row["referral_id"]), keys) for row in rows]
