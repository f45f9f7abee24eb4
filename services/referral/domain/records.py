"""What a referral keeps of its past: its events with their versions and notes, and the
contacts and follow-ups recorded against it."""

import datetime as dt
from dataclasses import dataclass

from schemas.ids import ActorId, ContactId, FollowUpId
from schemas.referrals import (
    ContactMethod,
    ContactResult,
    ReferralEvent,
)
from services.referral.domain.errors import NoteTooLong

# Free text stays in the referral store, never in an event; this keeps it a note.
MAX_NOTE_LENGTH = 4000


def check_note(note: str | None) -> None:
    """Raise NoteTooLong for a note over the limit."""
    if note is not None and len(note) > MAX_NOTE_LENGTH:
        raise NoteTooLong(length=len(note), limit=MAX_NOTE_LENGTH)


@dataclass(frozen=True, repr=False)
class HistoryEntry:
    """One step of a referral: the version it produced, its event, and its free-text note."""

    version: int
    event: ReferralEvent
    note: str | None = None

    def __repr__(self) -> str:
        # The note may name the person; keep it out of logs and tracebacks.
        note = "None" if self.note is None else "<hidden>"
        return f"HistoryEntry(version={self.version}, event={self.event!r}, note={note})"


@dataclass(frozen=True)
class Contact:
    """A contact with the person, or an attempt, recorded by a user of the receiver."""

    contact_id: ContactId
    method: ContactMethod
    result: ContactResult
    recorded_at: dt.datetime
    recorded_by: ActorId


@dataclass(frozen=True)
class FollowUp:
    """A follow-up of the person, recorded by a user of the receiver."""

    follow_up_id: FollowUpId
    method: ContactMethod
    recorded_at: dt.datetime
    recorded_by: ActorId
