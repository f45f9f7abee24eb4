"""Every consumed event becomes one row of the chained log, once; dead-lettered records are
logged with their reason; the log refuses to change."""

import asyncio
import datetime as dt
import json
import uuid

import asyncpg
import pytest

from schemas.access import PersonalDataAccessedV1
from schemas.person import ConsentGivenV1, SubjectRegisteredV1
from schemas.referrals import ReferralAcceptedV1
from services.audit.consumers import AuditTopics
from services.audit.domain.chain import ChainRow, Entry, sha256, verify
from services.audit.store import log
from services.plumbing.binding import KafkaRecord, to_record
from tests.integration.audit.conftest import (
    RunningAudit,
    actor,
    changed,
    event,
    log_count,
    logged,
    organisation,
)
from tests.integration.plumbing.consumer_helpers import eventually, publish, rewind_group
from tests.servers import Servers

pytestmark = pytest.mark.integration

NAV = uuid.uuid4()


async def all_rows(pool: asyncpg.Pool) -> list[ChainRow]:
    async with pool.acquire() as connection, connection.transaction():
        return [row async for row in log.rows_between(connection, first=1, last=None)]


async def test_each_event_becomes_one_chained_row_with_its_subject_and_organisations(
    servers: Servers, pool: asyncpg.Pool, audit_topics: AuditTopics
) -> None:
    person, directory, _access, _deadline = audit_topics.domain
    subject = uuid.uuid4()
    registered = event(
        SubjectRegisteredV1(
            subject_id=subject, actor=actor(NAV), occurred_at=dt.datetime.now(dt.UTC)
        )
    )
    accepted = event(changed(ReferralAcceptedV1, subject_id=subject, to_organisation_id=NAV))
    office = event(organisation(NAV, "46"))
    await publish(servers, person, [to_record(registered), to_record(accepted)])
    await publish(servers, directory, [to_record(office)])

    async with RunningAudit(servers, pool, audit_topics):
        await eventually(lambda: logged(pool, 3))

    rows = await all_rows(pool)
    assert [row.sequence for row in rows] == [1, 2, 3]
    assert verify(rows).ok
    by_event = {row.entry.event_id: row.entry for row in rows}
    assert by_event[accepted.id].subject_id == subject
    assert NAV in by_event[accepted.id].organisation_ids
    assert by_event[accepted.id].source_topic == person
    assert json.loads(by_event[accepted.id].payload or b"")["data"]["to_organisation_id"] == str(
        NAV
    )
    assert by_event[office.id].subject_id is None
    county = await pool.fetchval(
        "SELECT county_number FROM directory_organisations WHERE organisation_id = $1", NAV
    )
    assert county == "46"


async def test_replaying_the_same_events_adds_no_rows(
    servers: Servers, pool: asyncpg.Pool, audit_topics: AuditTopics
) -> None:
    person = audit_topics.domain[0]
    events = [event(changed(ConsentGivenV1, subject_id=uuid.uuid4())) for _ in range(20)]
    await publish(servers, person, [to_record(e) for e in events])
    async with RunningAudit(servers, pool, audit_topics):
        await eventually(lambda: logged(pool, 20))
    # The same records published again, and the group rewound to the start: all come again.
    await publish(servers, person, [to_record(e) for e in events])
    group = f"overgang-audit.{person}"
    await rewind_group(servers, person, group)

    async with RunningAudit(servers, pool, audit_topics) as audit:
        await eventually(lambda: _duplicates(audit, 40))

    assert await log_count(pool) == 20
    assert verify(await all_rows(pool)).ok


async def _duplicates(audit: RunningAudit, expected: int) -> bool:
    return sum(consumer.totals.duplicates for consumer in audit.consumers) >= expected


async def test_access_events_feed_the_access_log(
    servers: Servers, pool: asyncpg.Pool, audit_topics: AuditTopics
) -> None:
    read = changed(PersonalDataAccessedV1, subject_id=uuid.uuid4(), actor=actor(NAV))
    await publish(servers, audit_topics.domain[2], [to_record(event(read))])

    async with RunningAudit(servers, pool, audit_topics):
        await eventually(lambda: logged(pool, 1))

    row = await pool.fetchrow("SELECT * FROM access_log")
    assert row is not None
    assert (row["access_id"], row["subject_id"], row["actor_id"], row["sequence"]) == (
        read.access_id,
        read.subject_id,
        read.actor.actor_id,
        1,
    )


async def test_dead_lettered_records_are_logged_with_their_reason(
    servers: Servers, pool: asyncpg.Pool, audit_topics: AuditTopics
) -> None:
    person = audit_topics.domain[0]
    garbage = KafkaRecord(key=b"k", value=b"\x00\xffnot an event", headers=[])
    unknown = to_record(event(changed(ConsentGivenV1, subject_id=uuid.uuid4())))
    unknown.headers[:] = [
        (name, b"no.overgang.consent.invented.v1" if name == "ce_type" else value)
        for name, value in unknown.headers
    ]
    await publish(servers, person, [garbage, unknown])

    async with RunningAudit(servers, pool, audit_topics):
        # Each is dead-lettered by the audit's own consumer, then logged from the .dlq topic.
        await eventually(lambda: logged(pool, 2))

    entries = {
        row.entry.dead_letter["reason"]: row.entry
        for row in await all_rows(pool)
        if row.entry.dead_letter
    }
    undecodable = entries["undecodable"]
    assert undecodable.payload is None
    assert undecodable.payload_hash == sha256(garbage.value)
    assert undecodable.source_topic == person
    assert undecodable.dead_letter is not None
    assert undecodable.dead_letter["consumer_group"] == f"overgang-audit.{person}"
    unknown_type = entries["unknown_type"]
    assert unknown_type.type == "no.overgang.consent.invented.v1"
    assert unknown_type.payload is not None
    assert verify(await all_rows(pool)).ok


async def test_inbound_dead_letters_keep_only_the_hash(
    servers: Servers, pool: asyncpg.Pool, audit_topics: AuditTopics
) -> None:
    inbound = audit_topics.inbound[0]
    record = to_record(event(changed(ConsentGivenV1, subject_id=uuid.uuid4())))
    await publish(
        servers,
        f"{inbound}.dlq",
        [
            KafkaRecord(
                record.key, record.value, [*record.headers, ("dlq.reason", b"schema_violation")]
            )
        ],
    )

    async with RunningAudit(servers, pool, audit_topics):
        await eventually(lambda: logged(pool, 1))

    (row,) = await all_rows(pool)
    assert row.entry.payload is None
    assert row.entry.dead_letter == {"reason": "schema_violation"}
    assert row.entry.source_topic == inbound


async def test_the_log_refuses_update_delete_and_truncate(pool: asyncpg.Pool) -> None:
    await _append_one(pool)

    for statement in (
        "UPDATE audit_log SET type = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log CASCADE",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await pool.execute(statement)
    assert await log_count(pool) == 1


async def test_two_appenders_at_once_never_fork_the_chain(pool: asyncpg.Pool) -> None:
    async def append_many(count: int) -> None:
        for _ in range(count):
            await _append_one(pool)

    await asyncio.gather(append_many(40), append_many(40), append_many(40))

    rows = await all_rows(pool)
    assert [row.sequence for row in rows] == list(range(1, 121))
    assert verify(rows).ok


async def _append_one(pool: asyncpg.Pool) -> None:
    payload = uuid.uuid4().bytes
    entry = Entry(
        entry_id=uuid.uuid4(),
        event_id=None,
        type="no.overgang.test.appended.v1",
        event_time=dt.datetime.now(dt.UTC),
        subject_id=None,
        organisation_ids=(),
        source_topic="test",
        dead_letter=None,
        payload=payload,
        payload_hash=sha256(payload),
        recorded_at=dt.datetime.now(dt.UTC),
    )
    async with pool.acquire() as connection, connection.transaction():
        await log.append(connection, entry)
