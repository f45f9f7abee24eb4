"""Every Kafka topic of Overgang, with its partitions and what its records are keyed by.
Declared once, here: the services, deploy/ and the AsyncAPI document read this module."""

from dataclasses import dataclass
from enum import StrEnum


class KeyedBy(StrEnum):
    SUBJECT = "subject_id"
    ORGANISATION = "organisation_id"
    AGREEMENT_OR_ORGANISATION = "agreement_id or organisation_id"
    EVENT = "event id"


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    keyed_by: KeyedBy
    description: str
    # Inbound topics are another trust zone: their records may carry identity numbers.
    inbound: bool = False

    @property
    def dead_letters(self) -> str:
        """Where records of this topic that cannot be handled go, with the reason."""
        return f"{self.name}.dlq"


PERSON = Topic(
    "overgang.person.v1",
    12,
    KeyedBy.SUBJECT,
    "subjects, consents and referrals: one topic so that a person's history stays in order",
)
DIRECTORY = Topic(
    "overgang.directory.v1",
    3,
    KeyedBy.AGREEMENT_OR_ORGANISATION,
    "organisations and cooperation agreements",
)
DEADLINE = Topic(
    "overgang.deadline.v1",
    6,
    KeyedBy.SUBJECT,
    "deadlines of referrals approaching, missed and met",
)
NOTIFICATION = Topic(
    "overgang.notification.v1",
    3,
    KeyedBy.ORGANISATION,
    "deliveries of notifications to organisations",
)
ACCESS = Topic(
    "overgang.access.v1",
    3,
    KeyedBy.SUBJECT,
    "every read of a person's data: who, whose, why",
)
AUDIT = Topic(
    "overgang.audit.v1",
    1,
    KeyedBy.EVENT,
    "checkpoints of the audit log's hash chain: its head, kept outside the audit database",
)
INBOUND_SCHOOL = Topic(
    "overgang.inbound.school.v1",
    3,
    KeyedBy.EVENT,
    "from school administration systems, e.g. a pupil left school (carries identity numbers)",
    inbound=True,
)

TOPICS: tuple[Topic, ...] = (
    PERSON,
    DIRECTORY,
    DEADLINE,
    NOTIFICATION,
    ACCESS,
    AUDIT,
    INBOUND_SCHOOL,
)
