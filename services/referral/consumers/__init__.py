"""The referral service's Kafka consumers: inbound "pupil left school" reports (registered and
referred to the county's follow-up service) and the audit service's deadline events (which
referrals are overdue). `referral_consumers` declares them for `create_service_app`."""

import datetime as dt
import functools
from dataclasses import dataclass

from schemas.topics import DEADLINE, INBOUND_SCHOOL
from services.plumbing.consumer import ConsumerSpec
from services.referral.consumers.deadlines import handle_deadline
from services.referral.consumers.school_leavers import handle_pupil_left_school
from services.referral.crypto import StoreKeys


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ConsumedTopics:
    """Where the consumers read; tests give topics of their own."""

    inbound_school: str = INBOUND_SCHOOL.name
    deadline: str = DEADLINE.name


def group_of(topic: str) -> str:
    """The referral service's consumer group for a topic: its progress there, shared by every
    instance of the service."""
    return f"overgang-referral.{topic}"


def referral_consumers(
    keys: StoreKeys,
    *,
    allow_synthetic_identity_numbers: bool,
    topics: ConsumedTopics | None = None,
) -> tuple[ConsumerSpec, ...]:
    """The referral service's consumers, reading `topics` (the declared ones by default)."""
    topics = topics or ConsumedTopics()
    return (
        ConsumerSpec(
            topic=topics.inbound_school,
            group=group_of(topics.inbound_school),
            handler=functools.partial(
                handle_pupil_left_school,
                keys=keys,
                allow_synthetic=allow_synthetic_identity_numbers,
                clock=_now,
            ),
        ),
        ConsumerSpec(
            topic=topics.deadline,
            group=group_of(topics.deadline),
            handler=functools.partial(handle_deadline, keys=keys, clock=_now),
        ),
    )
