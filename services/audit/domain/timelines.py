"""A person's timeline: every step of their referrals, their consents, their registration and
rights, and the deadlines of their referrals, across organisations and years, in order."""

import datetime as dt
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from schemas.registry import MODELS
from schemas.topics import DEADLINE, PERSON


class Kind(StrEnum):
    """What a timeline item is about."""

    SUBJECT = "subject"  # registered, restricted, erased
    CONSENT = "consent"
    REFERRAL = "referral"
    DEADLINE = "deadline"


# The event types that make up a timeline: everything on the person and deadline topics.
TIMELINE_TYPES: tuple[str, ...] = tuple(
    model.ce_type for model in MODELS if model.topic in (PERSON, DEADLINE)
)


def kind_of(event_type: str) -> Kind:
    """`no.overgang.referral.accepted.v1` → referral."""
    return Kind(event_type.split(".")[2])


def step_of(event_type: str) -> str:
    """`no.overgang.referral.accepted.v1` → accepted."""
    return event_type.split(".")[3]


@dataclass(frozen=True)
class TimelineItem:
    """One event in a person's timeline, as recorded in the log (ids and codes only)."""

    sequence: int
    event_id: uuid.UUID
    type: str
    time: dt.datetime
    organisation_ids: tuple[uuid.UUID, ...]
    data: dict[str, Any]

    @property
    def kind(self) -> Kind:
        return kind_of(self.type)

    @property
    def step(self) -> str:
        return step_of(self.type)
