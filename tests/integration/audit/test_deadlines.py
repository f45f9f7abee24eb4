"""Deadlines on the real PostgreSQL and Kafka: referral events in through the audit service's
consumers, notices out through its outbox, each raised once, also with two scanners on the
same database, with the same events delivered again, and after a restart."""

import asyncio
import datetime as dt
import json
import uuid
from collections import Counter
from typing import Any

import asyncpg
import pytest

from schemas.codes import Role
from schemas.directory import AgreementAmendedV1, AgreementRegisteredV1, ServiceLevels
from schemas.envelope import CloudEvent
from schemas.referrals import (
    ContactResult,
    ReferralAcceptedV1,
    ReferralContactRecordedV1,
    ReferralReceivedV1,
    ReferralSubmittedV1,
)
from services.audit.consumers import AuditTopics
from services.audit.domain.deadlines import Notice
from services.audit.usecases.deadlines import scan
from services.plumbing.binding import from_record, to_record
from tests.integration.audit.conftest import (
    START,
    RunningAudit,
    actor,
    changed,
    event,
    logged,
    organisation,
)
from tests.integration.plumbing.consumer_helpers import eventually, publish
from tests.servers import Servers

pytestmark = pytest.mark.integration

# START is Monday 14 September 2026, 08:00 UTC (10:00 in Oslo).
LEVELS = ServiceLevels(
    acknowledge_within_working_days=2,
    decide_within_working_days=3,
    first_contact_within_working_days=2,
    follow_up_every_days=30,
)
ACKNOWLEDGE_DUE = dt.datetime(2026, 9, 16, 22, tzinfo=dt.UTC)  # the end of Wednesday in Oslo
ACKNOWLEDGE_APPROACHING = dt.datetime(2026, 9, 15, 22, tzinfo=dt.UTC)  # the end of Tuesday
DEADLINE_TYPES = tuple(f"no.overgang.deadline.{notice.value}.v1" for notice in Notice)


def at(hours: float) -> dt.datetime:
    return START + dt.timedelta(hours=hours)


class County:
    """A follow-up service and a NAV office of Vestland (46), under one agreement."""

    def __init__(self) -> None:
        self.follow_up, self.nav = uuid.uuid4(), uuid.uuid4()
        self.agreement = uuid.uuid4()
        self.organisations = [
            event(organisation(self.follow_up, "46")),
            event(organisation(self.nav, "46")),
        ]

    def agreement_event(self, levels: ServiceLevels = LEVELS, version: int = 1) -> CloudEvent:
        model = AgreementRegisteredV1 if version == 1 else AgreementAmendedV1
        return event(
            changed(
                model,
                agreement_id=self.agreement,
                version=version,
                county_number="46",
                parties=[self.follow_up, self.nav],
                service_levels=levels,
            )
        )

    def referral(self) -> "Referral":
        return Referral(self)


class Referral:
    """One referral from the follow-up service to the NAV office, and its steps."""

    def __init__(self, county: County) -> None:
        self.county = county
        self.referral_id, self.subject_id = uuid.uuid4(), uuid.uuid4()

    def _fields(self, hours: float) -> dict[str, Any]:
        return {
            "referral_id": self.referral_id,
            "subject_id": self.subject_id,
            "from_organisation_id": self.county.follow_up,
            "to_organisation_id": self.county.nav,
            "actor": actor(self.county.nav),
            "occurred_at": at(hours),
        }

    def submitted(self, hours: float = 0) -> CloudEvent:
        data = changed(
            ReferralSubmittedV1,
            **self._fields(hours) | {"actor": actor(self.county.follow_up, Role.FILER)},
            agreement_id=self.county.agreement,
            agreement_version=1,
        )
        return event(data, at=at(hours))

    def received(self, hours: float) -> CloudEvent:
        return event(changed(ReferralReceivedV1, **self._fields(hours)), at=at(hours))

    def accepted(self, hours: float) -> CloudEvent:
        return event(changed(ReferralAcceptedV1, **self._fields(hours)), at=at(hours))

    def reached(self, hours: float) -> CloudEvent:
        data = changed(
            ReferralContactRecordedV1, **self._fields(hours), result=ContactResult.REACHED
        )
        return event(data, at=at(hours))


@pytest.fixture
def topics(audit_topics: AuditTopics) -> AuditTopics:
    """The test's topics, with its own deadline topic for the notices."""
    *_, deadline = audit_topics.domain
    return AuditTopics(domain=audit_topics.domain, inbound=audit_topics.inbound, deadlines=deadline)


def person_topic(topics: AuditTopics) -> str:
    return topics.domain[0]


def directory_topic(topics: AuditTopics) -> str:
    return topics.domain[1]


async def send(servers: Servers, topic: str, events: list[CloudEvent]) -> None:
    await publish(servers, topic, [to_record(e) for e in events])


async def notices(pool: asyncpg.Pool, topic: str) -> list[CloudEvent]:
    """The deadline notices in the outbox, in order."""
    rows = await pool.fetch(
        "SELECT partition_key, headers, value FROM outbox WHERE topic = $1 ORDER BY position",
        topic,
    )
    return [
        from_record(
            row["partition_key"].encode(),
            row["value"],
            [(name, value.encode()) for name, value in json.loads(row["headers"]).items()],
        )
        for row in rows
    ]


def tally(events: list[CloudEvent]) -> Counter[tuple[str, str, str]]:
    """How many of each (type, referral, kind) there are."""
    return Counter((e.type, e.data["referral_id"], e.data["kind"]) for e in events)


async def deadline_rows(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM deadlines")
    return count


async def test_a_referral_handled_in_time_raises_met_and_never_missed(
    servers: Servers, pool: asyncpg.Pool, topics: AuditTopics
) -> None:
    county = County()
    referral = county.referral()
    steps = [
        referral.submitted(0),
        referral.received(1),  # acknowledged the same day
        referral.accepted(24),  # decided the next day
        referral.reached(26),  # first contact the same day
    ]
    async with RunningAudit(servers, pool, topics):
        await send(servers, directory_topic(topics), county.organisations)
        await eventually(lambda: logged(pool, 2))
        # The steps before the agreement: the deadlines wait for its service levels.
        await send(servers, person_topic(topics), steps)
        await eventually(lambda: logged(pool, 6))
        assert await notices(pool, topics.deadlines) == []
        await send(servers, directory_topic(topics), [county.agreement_event()])
        await eventually(lambda: logged(pool, 7))

    # Long after every due date, the scanner finds nothing due.
    for days in (1, 3, 10, 60):
        assert not any(
            (
                await scan(
                    pool, topic=topics.deadlines, now=at(24 * days), approaching_working_days=1
                )
            ).values()
        )

    raised = await notices(pool, topics.deadlines)
    rid = str(referral.referral_id)
    assert tally(raised) == Counter(
        {
            ("no.overgang.deadline.met.v1", rid, "acknowledge"): 1,
            ("no.overgang.deadline.met.v1", rid, "decide"): 1,
            ("no.overgang.deadline.met.v1", rid, "first_contact"): 1,
        }
    )
    acknowledged = next(e for e in raised if e.data["kind"] == "acknowledge")
    assert acknowledged.data["due_at"] == ACKNOWLEDGE_DUE.isoformat().replace("+00:00", "Z")
    assert acknowledged.data["met_at"] == at(1).isoformat().replace("+00:00", "Z")
    assert acknowledged.data["organisation_id"] == str(county.nav)
    assert acknowledged.partition_key == str(referral.subject_id)


async def test_a_referral_left_alone_approaches_then_is_missed_once_each(
    servers: Servers, pool: asyncpg.Pool, topics: AuditTopics
) -> None:
    county = County()
    referral = county.referral()
    async with RunningAudit(servers, pool, topics):
        await send(servers, directory_topic(topics), [*county.organisations])
        await send(servers, directory_topic(topics), [county.agreement_event()])
        await eventually(lambda: logged(pool, 3))
        await send(servers, person_topic(topics), [referral.submitted(0)])
        await eventually(lambda: logged(pool, 4))

    async def scanned(now: dt.datetime) -> dict[Notice, int]:
        return await scan(pool, topic=topics.deadlines, now=now, approaching_working_days=1)

    nothing = dict.fromkeys(Notice, 0)
    assert await scanned(ACKNOWLEDGE_APPROACHING - dt.timedelta(minutes=1)) == nothing
    assert await scanned(ACKNOWLEDGE_APPROACHING) == nothing | {Notice.APPROACHING: 1}
    assert await scanned(ACKNOWLEDGE_APPROACHING + dt.timedelta(hours=3)) == nothing
    assert await scanned(ACKNOWLEDGE_DUE - dt.timedelta(seconds=1)) == nothing
    assert await scanned(ACKNOWLEDGE_DUE) == nothing | {Notice.MISSED: 1}
    assert await scanned(ACKNOWLEDGE_DUE + dt.timedelta(days=30)) == nothing

    raised = await notices(pool, topics.deadlines)
    assert [(e.type, e.data["kind"]) for e in raised] == [
        ("no.overgang.deadline.approaching.v1", "acknowledge"),
        ("no.overgang.deadline.missed.v1", "acknowledge"),
    ]
    assert {e.data["due_at"] for e in raised} == {
        ACKNOWLEDGE_DUE.isoformat().replace("+00:00", "Z")
    }

    # Received late: the acknowledgement is met (late) and the decision is due; nothing
    # about the acknowledgement is raised again when the events come twice.
    again = referral.received(24 * 3)
    async with RunningAudit(servers, pool, topics):
        await send(servers, person_topic(topics), [again, again])
        await eventually(lambda: logged(pool, 5))
    late = await notices(pool, topics.deadlines)
    assert [(e.type, e.data["kind"]) for e in late[2:]] == [
        ("no.overgang.deadline.met.v1", "acknowledge")
    ]
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM deadlines WHERE kind = 'decide' AND due_at IS NOT NULL"
        )
        == 1
    )


async def test_two_scanners_and_a_restart_raise_each_notice_once(
    servers: Servers, pool: asyncpg.Pool, database_url: str, topics: AuditTopics
) -> None:
    county = County()
    referrals = [county.referral() for _ in range(40)]
    submitted = [referral.submitted(0) for referral in referrals]
    async with RunningAudit(servers, pool, topics):
        await send(servers, directory_topic(topics), [*county.organisations])
        await send(servers, directory_topic(topics), [county.agreement_event()])
        await eventually(lambda: logged(pool, 3))
        await send(servers, person_topic(topics), submitted)
        await eventually(lambda: logged(pool, 3 + len(referrals)))
    assert await deadline_rows(pool) == len(referrals)

    # Two instances, each with its own pool, scanning the same rows at the same moments.
    other = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        for now in (ACKNOWLEDGE_APPROACHING, ACKNOWLEDGE_DUE):
            results = await asyncio.gather(
                *(
                    scan(
                        instance,
                        topic=topics.deadlines,
                        now=now,
                        approaching_working_days=1,
                        batch_size=3,
                    )
                    for instance in (pool, other, pool, other)
                )
            )
            raised_now = Counter[Notice]()
            for result in results:
                raised_now.update(result)
            assert sum(raised_now.values()) == len(referrals)
    finally:
        await other.close()

    # A restart: a new pool, the same events delivered again, and later scans.
    restarted = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        async with RunningAudit(servers, restarted, topics) as running:
            await send(servers, person_topic(topics), submitted)
            (consumer,) = [c for c in running.consumers if c.topic == person_topic(topics)]

            async def all_seen_again() -> bool:
                return consumer.totals.duplicates >= len(submitted)

            await eventually(all_seen_again)
        for days in (1, 5, 40):
            result = await scan(
                restarted,
                topic=topics.deadlines,
                now=ACKNOWLEDGE_DUE + dt.timedelta(days=days),
                approaching_working_days=1,
            )
            assert not any(result.values())
        assert await deadline_rows(restarted) == len(referrals)
    finally:
        await restarted.close()

    counts = tally(await notices(pool, topics.deadlines))
    expected = Counter(
        {
            (f"no.overgang.deadline.{notice}.v1", str(referral.referral_id), "acknowledge"): 1
            for referral in referrals
            for notice in ("approaching", "missed")
        }
    )
    assert counts == expected
    # Every notice has an id of its own, and the outbox holds each id once.
    assert await pool.fetchval(
        "SELECT count(DISTINCT event_id) FROM outbox WHERE topic = $1", topics.deadlines
    ) == 2 * len(referrals)


async def test_a_referral_under_an_unknown_agreement_version_waits_and_one_never_filed_is_ignored(
    servers: Servers, pool: asyncpg.Pool, topics: AuditTopics
) -> None:
    county = County()
    referral, unseen = county.referral(), county.referral()
    async with RunningAudit(servers, pool, topics):
        await send(servers, directory_topic(topics), [*county.organisations])
        await send(servers, person_topic(topics), [referral.submitted(0), unseen.received(1)])
        await eventually(lambda: logged(pool, 4))
        assert await pool.fetchval("SELECT count(*) FROM deadlines WHERE due_at IS NULL") == 1
        assert not any(
            (
                await scan(
                    pool, topic=topics.deadlines, now=at(24 * 30), approaching_working_days=1
                )
            ).values()
        )
        await send(servers, directory_topic(topics), [county.agreement_event()])
        await eventually(lambda: logged(pool, 5))
    assert await pool.fetchval("SELECT due_at FROM deadlines") == ACKNOWLEDGE_DUE
    assert await deadline_rows(pool) == 1
