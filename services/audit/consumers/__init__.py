"""The audit service's consumers: every domain topic (each event becomes a row of the log) and
every dead-letter topic (each record becomes a row with its reason). Inbound topics are not
logged as such: what the referral service makes of them arrives as domain events; inbound
records that could not be handled are logged from their dead-letter topic, hash only."""

import datetime as dt
import functools
from dataclasses import dataclass

import asyncpg

from schemas.topics import (
    ACCESS,
    AUDIT,
    DEADLINE,
    DIRECTORY,
    INBOUND_SCHOOL,
    NOTIFICATION,
    PERSON,
)
from services.audit.consumers.dead_letters import DeadLetterConsumer
from services.audit.consumers.events import handle_event, handle_events
from services.plumbing.consumer import ConsumerSpec
from services.plumbing.dead_letters import dead_letter_topic


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class AuditTopics:
    """Where the consumers read; tests give topics of their own."""

    domain: tuple[str, ...] = tuple(
        topic.name for topic in (PERSON, DIRECTORY, DEADLINE, NOTIFICATION, ACCESS, AUDIT)
    )
    # Topics whose dead letters are logged but not their records (they may carry identity
    # numbers): only the hash of a dead-lettered record is kept.
    inbound: tuple[str, ...] = (INBOUND_SCHOOL.name,)
    # Where the service's own deadline notices go (it logs them from there like any event).
    deadlines: str = DEADLINE.name


def group_of(topic: str) -> str:
    """The audit service's consumer group for a topic, shared by every instance."""
    return f"overgang-audit.{topic}"


def audit_consumers(topics: AuditTopics | None = None) -> tuple[ConsumerSpec, ...]:
    """The consumers of the domain topics, for create_service_app."""
    topics = topics or AuditTopics()
    return tuple(
        ConsumerSpec(
            topic=topic,
            group=group_of(topic),
            handler=functools.partial(
                handle_event, topic=topic, clock=_now, deadline_topic=topics.deadlines
            ),
            batch_handler=functools.partial(
                handle_events, topic=topic, clock=_now, deadline_topic=topics.deadlines
            ),
        )
        for topic in topics.domain
    )


def dead_letter_consumers(
    pool: asyncpg.Pool, topics: AuditTopics | None = None
) -> tuple[DeadLetterConsumer, ...]:
    """The consumers of the dead-letter topic of every domain and inbound topic."""
    topics = topics or AuditTopics()
    return tuple(
        DeadLetterConsumer(
            topic=dead_letter_topic(topic),
            group=group_of(dead_letter_topic(topic)),
            pool=pool,
            inbound=topic in topics.inbound,
            clock=_now,
        )
        for topic in (*topics.domain, *topics.inbound)
    )
