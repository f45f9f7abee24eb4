"""Scale benchmark: years of national data made by bench/generate.py through the referral
service's use cases, carried by the outbox relay over Kafka into the audit service's consumers
(the real paths), then the queries people wait on, timed on that data with each query's plan:

- the received worklist of the busiest NAV office (first page, p50/p99; the store function
  behind `GET /v1/referrals?box=received`);
- a person's timeline (the person with the most events; `GET /v1/audit/timelines/{id}`);
- the handoff statistics of the largest county for a year and for five years
  (`GET /v1/audit/stats`);
- verifying the whole hash chain (`overgang audit verify`);
- and what the data takes on disk.

Goals (issue 11): worklist p99 < 50 ms, yearly county statistics < 2 s, verify of 10M rows
< 100 s. Figures to bench/results/scale.json (one entry per size, kept beside the others).

`python -m bench.scale --referrals 10000` (see `make bench-scale`)."""

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics as stats
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker

from bench.audit_ingest import verify as timed_verify
from bench.common import service_schema, write_results
from bench.generate import generate
from deploy.local import stack
from deploy.local.config import REPOSITORY, TEST_DATABASE, StackConfig
from schemas.codes import Role
from schemas.ids import ActorId, OrganisationId
from services.audit.consumers import AuditTopics, audit_consumers
from services.audit.domain.statistics import Period
from services.audit.store import statistics as statistics_store
from services.audit.store import timelines
from services.audit.usecases.statistics import read_statistics
from services.plumbing.auth import Principal
from services.plumbing.consumer import EventConsumer
from services.plumbing.database import Connection
from services.plumbing.dead_letters import DeadLetterPublisher
from services.plumbing.outbox import OutboxRelay, RelaySettings
from services.referral.crypto import StoreKeys
from services.referral.domain.status import OPEN_STATUSES, ReferralStatus
from services.referral.store import worklists

RESULTS = REPOSITORY / "bench" / "results" / "scale.json"
GOALS = {"worklist_p99_ms": 50, "county_statistics_year_s": 2.0, "verify_10m_rows_s": 100}
PARTITIONS = 6
# The largest county of the generator (Viken): the heaviest statistics.
COUNTY = "30"
# The last whole year of the generated history (it ends 2026-11-30).
YEAR = Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
FIVE_YEARS = Period(dt.date(2021, 1, 1), dt.date(2025, 12, 30))


class Recorder:
    """A connection that remembers the queries it ran, to explain them afterwards."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.queries: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.queries.append((query, args))
        rows: list[asyncpg.Record] = await self.connection.fetch(query, *args)
        return rows


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


async def plans(connection: Connection, recorder: Recorder) -> list[dict[str, Any]]:
    """Each recorded query's plan, summed up: its top node, time, rows and the indexes and
    sequential scans in it."""
    summaries = []
    for query, args in recorder.queries:
        explained = await connection.fetchval(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}", *args
        )
        plan = json.loads(explained)[0]
        nodes = list(_nodes(plan["Plan"]))
        summaries.append(
            {
                "top": plan["Plan"]["Node Type"],
                "execution_ms": round(plan["Execution Time"], 2),
                "rows": plan["Plan"]["Actual Rows"],
                "indexes": sorted({n["Index Name"] for n in nodes if "Index Name" in n}),
                "sequential_scans": sorted(
                    {n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"}
                ),
                "shared_blocks": plan["Plan"].get("Shared Hit Blocks", 0)
                + plan["Plan"].get("Shared Read Blocks", 0),
            }
        )
    return summaries


async def timed(call: Callable[[], Awaitable[object]], runs: int) -> dict[str, float]:
    """p50 and p99 (and the mean) of `runs` calls, in milliseconds, after one warm-up."""
    await call()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {
        "runs": runs,
        "p50_ms": round(times[len(times) // 2], 2),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
        "mean_ms": round(stats.fmean(times), 2),
    }


async def carry(bootstrap: str, referral_url: str, audit_url: str) -> dict[str, Any]:
    """The referral outbox through the relay and Kafka into the audit consumers; seconds
    until the audit log holds every event."""
    run = uuid.uuid4().hex[:8]
    connection = await asyncpg.connect(referral_url)
    try:
        # Topics of this run alone, as the tests do, so that no earlier run's records on the
        # stack's real topics are read with them: only the routing changes, not the events.
        topics = [row[0] for row in await connection.fetch("SELECT DISTINCT topic FROM outbox")]
        await connection.execute("UPDATE outbox SET topic = $1 || topic", f"bench.scale.{run}.")
        expected = await connection.fetchval("SELECT count(*) FROM outbox")
    finally:
        await connection.close()
    ours = [f"bench.scale.{run}.{topic}" for topic in topics]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(t, PARTITIONS, 1) for t in ours] + [NewTopic(f"{t}.dlq", 1, 1) for t in ours]
        )
    finally:
        await admin.close()
    pool: asyncpg.Pool = await asyncpg.create_pool(audit_url, min_size=1, max_size=4)
    dead_letters = DeadLetterPublisher(bootstrap, "bench-scale")
    consumers = [
        EventConsumer.of(spec, pool=pool, dead_letters=dead_letters, group=f"{spec.group}.{run}")
        for spec in audit_consumers(
            AuditTopics(domain=tuple(ours), inbound=(), deadlines=f"bench.scale.{run}.deadlines")
        )
    ]
    broker = KafkaBroker(bootstrap, logger=None)
    for consumer in consumers:
        consumer.subscribe(broker)
    relay = OutboxRelay(referral_url, RelaySettings(bootstrap, f"bench-scale-{run}"))
    stop = asyncio.Event()
    await dead_letters.start()
    began = time.perf_counter()
    relaying = asyncio.create_task(relay.run(stop))
    await broker.start()
    try:
        logged = 0
        while logged < expected:
            await asyncio.sleep(0.5)
            logged = await pool.fetchval("SELECT count(*) FROM audit_log")
        elapsed = time.perf_counter() - began
    finally:
        stop.set()
        await relaying
        await broker.stop()
        await dead_letters.stop()
        await pool.close()
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(ours + [f"{t}.dlq" for t in ours])
        finally:
            await admin.close()
    return {
        "events": expected,
        "seconds": round(elapsed, 1),
        "events_per_s": round(expected / elapsed),
    }


async def _one_row(connection: Connection, query: str, *args: Any) -> asyncpg.Record:
    row = await connection.fetchrow(query, *args)
    if row is None:
        raise RuntimeError("the generated data has nothing to measure")
    return row


async def worklist(
    referral_url: str, runs: int, statuses: frozenset[ReferralStatus] | None
) -> dict[str, Any]:
    connection = await asyncpg.connect(referral_url)
    try:
        office = await _one_row(
            connection,
            """SELECT r.to_organisation_id AS id, count(*) AS referrals FROM referrals r
               JOIN organisations o ON o.organisation_id = r.to_organisation_id
               WHERE o.type = 'nav_office' GROUP BY 1 ORDER BY 2 DESC LIMIT 1""",
        )
        organisation = OrganisationId(office["id"])
        figures = await timed(
            lambda: worklists.received(connection, organisation, statuses=statuses), runs
        )
        recorder = Recorder(connection)
        await worklists.received(cast(Connection, recorder), organisation, statuses=statuses)
        return {
            "office_referrals": office["referrals"],
            **figures,
            "plan": await plans(connection, recorder),
        }
    finally:
        await connection.close()


async def timeline(audit_url: str, runs: int) -> dict[str, Any]:
    connection = await asyncpg.connect(audit_url)
    try:
        person = await _one_row(
            connection,
            """SELECT subject_id, count(*) AS events FROM audit_log
               WHERE subject_id IS NOT NULL AND organisation_ids && (
                   SELECT array_agg(organisation_id) FROM directory_organisations
                   WHERE county_number = $1)
               GROUP BY 1 ORDER BY 2 DESC LIMIT 1""",
            COUNTY,
        )

        async def read(on: Connection) -> object:
            return await timelines.page(
                on, subject_id=person["subject_id"], county_number=COUNTY, after=None, limit=100
            )

        figures = await timed(lambda: read(connection), runs)
        recorder = Recorder(connection)
        await read(cast(Connection, recorder))
        return {
            "person_events": person["events"],
            **figures,
            "plan": await plans(connection, recorder),
        }
    finally:
        await connection.close()


async def county_statistics(audit_url: str, period: Period, runs: int) -> dict[str, Any]:
    pool: asyncpg.Pool = await asyncpg.create_pool(audit_url, min_size=1, max_size=2)
    try:
        organisation = await pool.fetchval(
            "SELECT organisation_id FROM directory_organisations WHERE county_number = $1 LIMIT 1",
            COUNTY,
        )
        auditor = Principal(
            actor_id=ActorId(uuid.uuid4()),
            organisation_id=OrganisationId(organisation),
            roles=frozenset({Role.AUDITOR}),
        )
        figures = await timed(
            lambda: read_statistics(
                pool,
                auditor,
                period=period,
                organisation_id=None,
                route=None,
                compare_previous=False,
            ),
            runs,
        )
        async with pool.acquire() as connection:
            recorder = Recorder(connection)
            await statistics_store.step_tallies(
                cast(Connection, recorder),
                county_number=COUNTY,
                period=period,
                organisation_id=None,
                route=None,
            )
            plan = await plans(connection, recorder)
        return {"period": f"{period.first}/{period.last}", **figures, "plan": plan}
    finally:
        await pool.close()


async def verify(audit_url: str) -> dict[str, Any]:
    elapsed, rows = await timed_verify(audit_url)
    return {
        "rows": rows,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed),
        "projected_10m_rows_s": round(10_000_000 / (rows / elapsed), 1),
    }


async def sizes(url: str, tables: list[str]) -> dict[str, Any]:
    connection = await asyncpg.connect(url)
    try:
        total = await connection.fetchval(
            """SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = current_schema() AND c.relkind = 'r'"""
        )
        rows = {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
            for table in tables
        }
        # The largest tables with their indexes and TOAST: where the bytes go.
        largest = {
            row["name"]: round(row["bytes"] / 2**20, 1)
            for row in await connection.fetch(
                """SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = current_schema() AND c.relkind = 'r'
                   ORDER BY 2 DESC LIMIT 6"""
            )
        }
        return {
            "bytes": int(total),
            "mib": round(int(total) / 2**20, 1),
            "rows": rows,
            "largest_tables_mib": largest,
        }
    finally:
        await connection.close()


async def measure(bootstrap: str, database_url: str, referrals: int, seed: int) -> dict[str, Any]:
    keys = StoreKeys(master_key=os.urandom(32), index_key=os.urandom(32))
    # The machine is shared: its load says how far the figures are this code's alone.
    load_before = os.getloadavg()
    async with (
        service_schema(database_url, "referral") as referral_url,
        service_schema(database_url, "audit") as audit_url,
    ):
        summary, rate = await generate(referral_url, keys, seed=seed, referrals=referrals)
        carried = await carry(bootstrap, referral_url, audit_url)
        for url in (referral_url, audit_url):
            connection = await asyncpg.connect(url)
            await connection.execute("VACUUM ANALYZE")
            await connection.close()
        figures = {
            # Everything the office received, and what a counsellor works on: the open ones.
            "worklist": await worklist(referral_url, runs=200, statuses=None),
            "worklist_open": await worklist(referral_url, runs=200, statuses=OPEN_STATUSES),
            "timeline": await timeline(audit_url, runs=100),
            "county_statistics_year": await county_statistics(audit_url, YEAR, runs=5),
            "county_statistics_five_years": await county_statistics(audit_url, FIVE_YEARS, runs=3),
            "verify": await verify(audit_url),
            "database": {
                "referral": await sizes(
                    referral_url, ["referrals", "referral_history", "subjects", "outbox"]
                ),
                "audit": await sizes(audit_url, ["audit_log"]),
            },
        }
    goals_met = {
        "worklist_p99_ms": max(figures["worklist"]["p99_ms"], figures["worklist_open"]["p99_ms"])
        < GOALS["worklist_p99_ms"],
        "county_statistics_year_s": figures["county_statistics_year"]["p50_ms"] / 1000
        < GOALS["county_statistics_year_s"],
        "verify_10m_rows_s": figures["verify"]["projected_10m_rows_s"] < GOALS["verify_10m_rows_s"],
    }
    return {
        "referrals": referrals,
        "seed": seed,
        "generated": summary,
        "generate_rate": rate,
        "carried_to_audit": carried,
        **figures,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "goals": GOALS,
        "goals_met": goals_met,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--referrals", type=int, default=10_000, help="how many referrals")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the figures go")
    arguments = parser.parse_args(argv)
    config = StackConfig()
    state, report = stack.up(config)
    try:
        assert state.kafka is not None
        assert state.postgres is not None
        figures = asyncio.run(
            measure(
                state.kafka.bootstrap,
                state.postgres.databases[TEST_DATABASE],
                arguments.referrals,
                arguments.seed,
            )
        )
    finally:
        if report.started:
            stack.down(config)
    # One entry per size: a run at another size keeps the others' figures.
    earlier: dict[str, Any] = {}
    if arguments.output.exists():
        earlier = json.loads(arguments.output.read_text()).get("sizes", {})
    # Each size says when it was measured; the file's own time is its latest run's.
    earlier[str(arguments.referrals)] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **figures,
    }
    print(json.dumps(write_results(arguments.output, {"sizes": earlier}), indent=2))


if __name__ == "__main__":
    main()
