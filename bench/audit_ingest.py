"""Audit ingest benchmark: N events already on a topic, read by the audit service's consumer
(the real code path: FastStream, the inbox, one hash-chained row per event under the chain
head's lock, on the local stack's PostgreSQL) beside a raw aiokafka consumer reading the same
topic in the same run; then `verify` over the chain that ingest made. Figures to
bench/results/audit.json.

Goals: ingest >= 5,000 events/s and >= 25% of the raw consumer; verify >= 100,000 rows/s.
A second baseline, the raw consumer that also copies each batch into PostgreSQL, shows how
much of the gap to the raw consumer any durable ingest has (figures only; no goal).

`python -m bench.audit_ingest --events 20000 --output /tmp/audit.json` for a quick run."""

import argparse
import asyncio
import datetime as dt
import json
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.backbone import raw_consume, raw_consumer  # the backbone's baseline consumer
from bench.common import service_schema, time_consumer, write_results
from deploy.local import stack
from deploy.local.config import REPOSITORY, TEST_DATABASE, StackConfig
from schemas.envelope import CloudEvent, EventData
from schemas.examples import example_of
from schemas.referrals import ReferralAcceptedV1, ReferralReceivedV1, ReferralSubmittedV1
from services.audit.consumers import AuditTopics, audit_consumers
from services.audit.usecases.verify import verify_chain
from services.plumbing.binding import to_record
from services.plumbing.consumer import EventConsumer
from services.plumbing.dead_letters import DeadLetterPublisher

RESULTS = REPOSITORY / "bench" / "results" / "audit.json"
PARTITIONS = 6
SUBJECTS = 5000
GOALS = {"ingest_events_per_s": 5000, "ingest_to_raw_ratio": 0.25, "verify_rows_per_s": 100_000}
PRODUCER = {"enable_idempotence": True, "acks": "all", "linger_ms": 5, "max_batch_size": 256 * 1024}
_STEPS: tuple[type[EventData], ...] = (ReferralSubmittedV1, ReferralReceivedV1, ReferralAcceptedV1)


def _events(count: int) -> list[CloudEvent]:
    """Referral steps (submitted, received, accepted) of many people, as the referral service
    publishes them: ids and codes, keyed by person; each referral has its own id, so that the
    deadlines the audit follows per referral are as many as in real use."""
    subjects = [uuid.uuid4() for _ in range(SUBJECTS)]
    examples = [example_of(model) for model in _STEPS]
    at = dt.datetime.now(dt.UTC)
    events = []
    referral_id = uuid.uuid4()
    for i in range(count):
        if i % len(examples) == 0:
            referral_id = uuid.uuid4()
        data = examples[i % len(examples)].model_copy(
            update={
                "subject_id": subjects[(i // len(examples)) % SUBJECTS],
                "referral_id": referral_id,
                "occurred_at": at,
            }
        )
        events.append(CloudEvent.of(data, source="/overgang/bench", event_id=uuid.uuid4(), time=at))
    return events


async def _publish(bootstrap: str, topic: str, events: list[CloudEvent]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1), NewTopic(f"{topic}.dlq", 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER)
    await producer.start()
    try:
        deliveries = []
        for event in events:
            record = to_record(event)
            deliveries.append(
                await producer.send(topic, record.value, key=record.key, headers=record.headers)
            )
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def _delete_topics(bootstrap: str, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(list(names))
    finally:
        await admin.close()


async def audit_ingest(bootstrap: str, topic: str, database_url: str, expected: int) -> float:
    """The audit service's consumer of `topic`, as create_service_app runs it."""
    pool: asyncpg.Pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    (spec,) = audit_consumers(AuditTopics(domain=(topic,), inbound=()))
    consumer = EventConsumer.of(
        spec,
        pool=pool,
        dead_letters=DeadLetterPublisher(bootstrap, "bench-audit"),
        group=f"{spec.group}.{uuid.uuid4().hex[:8]}",
    )
    try:
        return await time_consumer(bootstrap, consumer, expected)
    finally:
        rows = await pool.fetchval("SELECT count(*) FROM audit_log")
        await pool.close()
        assert rows == expected, f"{rows} rows logged of {expected}"


async def raw_consume_and_store(
    bootstrap: str, topic: str, database_url: str, expected: int
) -> float:
    """A second baseline, the least a durable ingest does: the raw consumer's batches, each
    copied as it came (partition, offset, value) into a table and committed before the
    offsets. No decoding, no validation, no hashing, no inbox: what is left of the audit's
    time beside it is the audit's own work."""
    connection = await asyncpg.connect(database_url)
    await connection.execute(
        "CREATE TABLE raw_records (partition int, record_offset bigint, value bytea)"
    )
    consumer = raw_consumer(bootstrap, topic, "raw-store")
    await consumer.start()
    try:
        began = time.perf_counter()
        seen = 0
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            records = [(r.partition, r.offset, r.value) for rs in batches.values() for r in rs]
            if records:
                async with connection.transaction():
                    await connection.copy_records_to_table("raw_records", records=records)
                await consumer.commit()
            seen += len(records)
        return time.perf_counter() - began
    finally:
        await consumer.stop()
        await connection.close()


async def verify(database_url: str) -> tuple[float, int]:
    connection = await asyncpg.connect(database_url)
    helper = await asyncpg.connect(database_url)
    try:
        began = time.perf_counter()
        result = await verify_chain(connection, helper=helper)
        elapsed = time.perf_counter() - began
    finally:
        await helper.close()
        await connection.close()
    assert result.ok, result
    return elapsed, result.verified_rows


async def measure(bootstrap: str, database_url: str, count: int) -> dict[str, Any]:
    topic = f"bench.audit.{uuid.uuid4().hex[:8]}"
    events = _events(count)
    began = time.perf_counter()
    await _publish(bootstrap, topic, events)
    publish_s = time.perf_counter() - began
    try:
        raw_s = await raw_consume(bootstrap, topic, count)
        async with service_schema(database_url, "audit") as url:
            raw_store_s = await raw_consume_and_store(bootstrap, topic, url, count)
            ingest_s = await audit_ingest(bootstrap, topic, url, count)
            verify_s, verified = await verify(url)
    finally:
        await _delete_topics(bootstrap, topic, f"{topic}.dlq")
    figures = {
        "ingest_events_per_s": round(count / ingest_s),
        "raw_aiokafka_events_per_s": round(count / raw_s),
        "ingest_to_raw_ratio": round(raw_s / ingest_s, 3),
        "raw_consume_and_store_events_per_s": round(count / raw_store_s),
        "ingest_to_raw_and_store_ratio": round(raw_store_s / ingest_s, 3),
        "verify_rows_per_s": round(verified / verify_s),
    }
    return {
        "events": count,
        "event_bytes": len(to_record(events[0]).value),
        "partitions": PARTITIONS,
        "subjects": SUBJECTS,
        "published_in_s": round(publish_s, 1),
        "ingest_s": round(ingest_s, 2),
        "raw_consume_s": round(raw_s, 2),
        "raw_consume_and_store_s": round(raw_store_s, 2),
        "verify_s": round(verify_s, 2),
        "verified_rows": verified,
        **figures,
        "goals": GOALS,
        "goals_met": {name: figures[name] >= goal for name, goal in GOALS.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_ingest", description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="how many events (N)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the figures go")
    arguments = parser.parse_args(argv)
    config = StackConfig()
    state, report = stack.up(config)
    try:
        assert state.kafka is not None
        assert state.postgres is not None
        figures = asyncio.run(
            measure(
                state.kafka.bootstrap, state.postgres.databases[TEST_DATABASE], arguments.events
            )
        )
    finally:
        if report.started:
            stack.down(config)
    print(json.dumps(write_results(arguments.output, figures), indent=2))


if __name__ == "__main__":
    main()
