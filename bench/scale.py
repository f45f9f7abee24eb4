"""Scale benchmark: years of national data made by bench/generate.py through the referral
service's use cases, carried by the outbox relay over Kafka into the audit service's consumers
(the real paths), then the queries people wait on, timed on that data with each query's plan.

A run is kept in schemas of its own (`scale_<referrals>_s<seed>_referral` and `_audit` in the
stack's test database) with its keys in var/scale/: the counties are generated in parallel
processes (`--workers`), each all or nothing, and the carry's topics and consumer groups are
the run's, so a run stopped part way goes on where it stopped when started again. The carry
runs after the generation: it is the audit consumers catching up on a backlog. Measured:

- the received worklist of the busiest NAV office (first page, p50/p99; the store function
  behind `GET /v1/referrals?box=received`);
- a person's timeline (the person with the most events; `GET /v1/audit/timelines/{id}`);
- the handoff statistics of the largest county for a year and for five years
  (`GET /v1/audit/stats`);
- verifying the whole hash chain (`overgang audit verify`);
- the audit service's deadline scan (the first after the history, then steady ones);
- a cold start of the referral and audit services on the run's data (time to ready);
- and what the data takes on disk.

Goals (issue 11): worklist p99 < 50 ms, yearly county statistics < 2 s, verify of 10M rows
< 100 s. Figures to bench/results/scale.json (one entry per size, kept beside the others).

`python -m bench.scale --referrals 10000 [--keep]` (see `make bench-scale`)."""

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics as stats
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker

from bench.audit_ingest import verify as timed_verify
from bench.common import write_results
from bench.generate import (
    COUNTIES,
    DIRECTORY,
    GENERATED_COUNTIES,
    generate_directory,
    load_keys,
    schema_url,
)
from deploy.local import stack
from deploy.local.config import REPOSITORY, TEST_DATABASE, StackConfig
from deploy.local.dev_issuer import jwks_file
from schemas.codes import Role
from schemas.ids import ActorId, OrganisationId
from schemas.topics import ACCESS, PERSON
from schemas.topics import DIRECTORY as DIRECTORY_TOPIC
from services.audit.consumers import AuditTopics, audit_consumers
from services.audit.domain.deadlines import Notice, approaching_horizon
from services.audit.domain.statistics import Period
from services.audit.store import deadlines as deadline_store
from services.audit.store import statistics as statistics_store
from services.audit.store import timelines
from services.audit.usecases.deadlines import scan as scan_deadlines
from services.audit.usecases.statistics import read_statistics
from services.plumbing.auth import Principal
from services.plumbing.consumer import EventConsumer
from services.plumbing.database import Connection
from services.plumbing.dead_letters import DeadLetterPublisher
from services.plumbing.migrations import migrate, migrations_folder
from services.plumbing.outbox import OutboxRelay, RelaySettings
from services.referral.crypto import StoreKeys
from services.referral.domain.status import OPEN_STATUSES, ReferralStatus
from services.referral.store import worklists
from tests.servers import free_port

RESULTS = REPOSITORY / "bench" / "results" / "scale.json"
# Where each run keeps its store keys (a run resumed later must open its data keys).
RUNS = REPOSITORY / "var" / "scale"
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


@dataclass(frozen=True)
class Run:
    """A run's place: its referral and audit schemas (kept between invocations, so that a run
    of hours can stop and go on), its topics and its store keys."""

    name: str
    database_url: str
    keys: StoreKeys
    keys_file: Path
    # Made when the run's schemas are: its topics and consumer groups are this one's alone, so
    # a run started again from nothing never meets an earlier one's offsets.
    incarnation: str = ""

    @property
    def referral_schema(self) -> str:
        return f"{self.name}_referral"

    @property
    def referral_url(self) -> str:
        return schema_url(self.database_url, self.referral_schema)

    @property
    def audit_schema(self) -> str:
        return f"{self.name}_audit"

    @property
    def audit_url(self) -> str:
        return schema_url(self.database_url, self.audit_schema)

    @property
    def topic_prefix(self) -> str:
        return f"bench.{self.name}.{self.incarnation}."


def run_of(database_url: str, referrals: int, seed: int) -> Run:
    name = f"scale_{referrals}_s{seed}"
    keys_file = RUNS / name / "keys.json"
    if not keys_file.exists():
        # Keys of the run's own, kept with it: a run resumed later must open its data keys.
        keys_file.parent.mkdir(parents=True, exist_ok=True)
        keys_file.write_text(
            json.dumps({"master_key": os.urandom(32).hex(), "index_key": os.urandom(32).hex()})
        )
    return Run(name, database_url, load_keys(keys_file), keys_file)


async def prepare(run: Run) -> Run:
    """The run's schemas, migrated (again: it is idempotent), with the table of what was
    generated; the run with its incarnation."""
    admin = await asyncpg.connect(run.database_url)
    try:
        for schema in (run.referral_schema, run.audit_schema):
            await admin.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        await admin.close()
    for url, service in ((run.referral_url, "referral"), (run.audit_url, "audit")):
        connection = await asyncpg.connect(url)
        try:
            await migrate(connection, migrations_folder(f"services.{service}"))
        finally:
            await connection.close()
    connection = await asyncpg.connect(run.referral_url)
    try:
        await connection.execute(GENERATED_COUNTIES)
        # What each call's carry did (a run resumed later is carried in parts).
        await connection.execute(
            """CREATE TABLE IF NOT EXISTS carries (
                   carried_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                   figures    jsonb       NOT NULL)"""
        )
        await connection.execute("CREATE TABLE IF NOT EXISTS incarnation (id text NOT NULL)")
        await connection.execute(
            "INSERT INTO incarnation SELECT $1 WHERE NOT EXISTS (SELECT FROM incarnation)",
            uuid.uuid4().hex[:8],
        )
        return replace(run, incarnation=await connection.fetchval("SELECT id FROM incarnation"))
    finally:
        await connection.close()


async def generated(run: Run) -> dict[str, asyncpg.Record]:
    connection = await asyncpg.connect(run.referral_url)
    try:
        return {
            row["county_number"]: row
            for row in await connection.fetch("SELECT * FROM generated_counties")
        }
    finally:
        await connection.close()


async def generate_counties(run: Run, referrals: int, seed: int, workers: int) -> dict[str, Any]:
    """Every county not generated yet, `workers` at a time (largest first), each a process of
    its own (bench/generate.py --county). What this call did."""
    began = time.perf_counter()
    done = await generated(run)
    waiting = [
        c.number
        for c in sorted(COUNTIES, key=lambda c: -c.population_thousands)
        if c.number not in done
    ]
    slots = asyncio.Semaphore(workers)

    async def county(number: str) -> None:
        async with slots:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.generate",
                "--referrals",
                str(referrals),
                "--seed",
                str(seed),
                "--county",
                number,
                "--database-url",
                run.database_url,
                "--schema",
                run.referral_schema,
                "--keys-file",
                str(run.keys_file),
                "--topic-prefix",
                run.topic_prefix,
                stdout=asyncio.subprocess.DEVNULL,
            )
            if await process.wait() != 0:
                raise RuntimeError(f"generating county {number} failed (see its output above)")

    await asyncio.gather(*(county(number) for number in waiting))
    return {"counties_generated_now": waiting, "seconds": round(time.perf_counter() - began, 1)}


def _total(rows: list[asyncpg.Record]) -> dict[str, Any]:
    """The counties' summaries added up."""
    total: dict[str, Any] = {}
    for row in rows:
        for key, value in json.loads(row["summary"]).items():
            if isinstance(value, dict):
                into = total.setdefault(key, {})
                for name, count in value.items():
                    into[name] = into.get(name, 0) + count
            else:
                total[key] = total.get(key, 0) + value
    return total


async def carry(bootstrap: str, run: Run, generating: "asyncio.Task[Any]") -> dict[str, Any]:
    """The referral outbox through the outbox relay and Kafka into the audit service's
    consumers, until generation is done and the audit log holds every event. The relay prunes
    what it sent after a minute, so the outbox does not keep the decade. Consumer groups and
    topics are the run's own and kept: a run resumed later goes on where it stopped. Each
    call's figures are kept in the run's `carries`."""
    # What the referral service writes to its outbox.
    ours = [f"{run.topic_prefix}{topic.name}" for topic in (PERSON, DIRECTORY_TOPIC, ACCESS)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        keep = {"retention.ms": "-1"}  # until the run has carried them, however long it takes
        # The audit service's deadline notices (the scan and the cold start raise them).
        notices = f"{run.topic_prefix}deadlines"
        await admin.create_topics(
            [NewTopic(t, PARTITIONS, 1, topic_configs=keep) for t in ours if t not in existing]
            + [NewTopic(f"{t}.dlq", 1, 1) for t in ours if f"{t}.dlq" not in existing]
            + ([NewTopic(notices, PARTITIONS, 1)] if notices not in existing else [])
        )
    finally:
        await admin.close()
    pool: asyncpg.Pool = await asyncpg.create_pool(run.audit_url, min_size=1, max_size=4)
    dead_letters = DeadLetterPublisher(bootstrap, run.name)
    consumers = [
        EventConsumer.of(
            spec, pool=pool, dead_letters=dead_letters, group=f"{spec.group}.{run.topic_prefix}"
        )
        for spec in audit_consumers(
            AuditTopics(domain=tuple(ours), inbound=(), deadlines=f"{run.topic_prefix}deadlines")
        )
    ]
    broker = KafkaBroker(bootstrap, logger=None)
    for consumer in consumers:
        consumer.subscribe(broker)
    relay = OutboxRelay(
        run.referral_url,
        RelaySettings(
            bootstrap,
            f"{run.topic_prefix}relay",
            retention_s=60,
            prune_every_s=60,
            progress_topic=f"{run.topic_prefix}outbox-progress",
            # Leadership is an advisory lock, and those are per database: runs side by side in
            # the test database must not wait for each other's relay.
            leader_lock=int.from_bytes(
                hashlib.sha256(run.topic_prefix.encode()).digest()[:8], "big", signed=True
            ),
        ),
    )
    stop = asyncio.Event()
    await dead_letters.start()
    began = time.perf_counter()
    logged_before = await _logged(pool)
    # When the generation is done, what is left is a backlog: from then on the consumers are
    # catching up, as after downtime.
    caught_up_from: tuple[float, int] | None = None
    relaying = asyncio.create_task(relay.run(stop))
    await broker.start()
    try:
        while True:
            await asyncio.sleep(2)
            if generating.done():
                generating.result()  # a failed generation stops the run here
                if caught_up_from is None:
                    caught_up_from = (time.perf_counter(), await _logged(pool))
                expected = _total(list((await generated(run)).values()))["events"]
                logged = await _logged(pool)
                if logged >= expected:
                    break
        ended = time.perf_counter()
    finally:
        stop.set()
        await relaying
        await broker.stop()
        await dead_letters.stop()
        await pool.close()
    since, logged_then = caught_up_from
    carried = {
        "events": logged - logged_before,
        "seconds": round(ended - began, 1),
        "events_per_s": round((logged - logged_before) / (ended - began)),
        # The backlog left when the generation was done, and how fast it was caught up.
        "catch_up_events": logged - logged_then,
        "catch_up_seconds": round(ended - since, 1),
        "catch_up_events_per_s": round((logged - logged_then) / max(ended - since, 1e-9)),
    }
    connection = await asyncpg.connect(run.referral_url)
    try:
        await connection.execute(
            "INSERT INTO carries (figures) VALUES ($1::jsonb)", json.dumps(carried)
        )
    finally:
        await connection.close()
    return {"events": expected, "this_call": carried}


async def _logged(pool: asyncpg.Pool) -> int:
    # The chain's sequence has no gaps: its last is the count, without counting millions.
    last: int = await pool.fetchval("SELECT coalesce(max(sequence), 0) FROM audit_log")
    return last


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


async def build(
    bootstrap: str, run: Run, referrals: int, seed: int, workers: int
) -> dict[str, Any]:
    """Generate what is not generated yet and carry it to the audit log; what was generated
    (all of the run) and at what rates (this call's)."""
    await generate_directory(run.referral_url, run.keys, seed=seed, topic_prefix=run.topic_prefix)
    # The carry goes on while the counties are generated, so that the relay prunes the outbox
    # as it goes (a decade of outbox would not fit on the disk at 1M referrals); what is left
    # when they are done is a backlog the consumers catch up on.
    generating = asyncio.create_task(generate_counties(run, referrals, seed, workers))
    carried = await carry(bootstrap, run, generating)
    generated_now = await generating
    counties = [row for number, row in (await generated(run)).items() if number != DIRECTORY]
    # Each county's own time: what one generator process does per second.
    rates = [json.loads(row["rate"]) for row in counties]
    use_cases = sum(rate["use_cases"] for rate in rates)
    process_seconds = sum(rate["seconds"] for rate in rates)
    return {
        "generated": _total(counties),
        "generate_rate": {
            "workers": workers,
            "use_cases": use_cases,
            "process_seconds": round(process_seconds, 1),
            "use_cases_per_s_per_process": round(use_cases / process_seconds, 1),
            **generated_now,
        },
        "carried_to_audit": {**carried, "calls": await carries(run)},
    }


async def carries(run: Run) -> list[dict[str, Any]]:
    """Every carry of the run so far (one unless it was resumed)."""
    connection = await asyncpg.connect(run.referral_url)
    try:
        return [
            json.loads(row["figures"])
            for row in await connection.fetch("SELECT figures FROM carries ORDER BY carried_at")
        ]
    finally:
        await connection.close()


async def queries(run: Run) -> dict[str, Any]:
    """The queries people wait on, timed on the run's data, with the databases' sizes."""
    referral_url, audit_url = run.referral_url, run.audit_url
    for url in (referral_url, audit_url):
        connection = await asyncpg.connect(url)
        await connection.execute("VACUUM ANALYZE")
        await connection.close()
    return {
        # Everything the office received, and what a counsellor works on: the open ones.
        "worklist": await worklist(referral_url, runs=200, statuses=None),
        "worklist_open": await worklist(referral_url, runs=200, statuses=OPEN_STATUSES),
        "timeline": await timeline(audit_url, runs=100),
        "county_statistics_year": await county_statistics(audit_url, YEAR, runs=5),
        "county_statistics_five_years": await county_statistics(audit_url, FIVE_YEARS, runs=3),
        "verify": await verify(audit_url),
        "deadline_scan": await deadline_scan(run, runs=20),
        "database": {
            "referral": await sizes(
                referral_url, ["referrals", "referral_history", "subjects", "outbox"]
            ),
            "audit": await sizes(audit_url, ["audit_log"]),
        },
    }


async def cold_start(bootstrap: str, run: Run, service: str, *, url: str) -> float:
    """Seconds from starting `service` as a process of its own on the run's database (and
    topics of its own: bench/restart.py) until it answers ready."""
    port = free_port()
    environment = {
        **os.environ,
        "OVERGANG_KAFKA_BOOTSTRAP": bootstrap,
        "OVERGANG_DATABASE_URL": url,
        "OVERGANG_PORT": str(port),
        "OVERGANG_AUTH_JWKS": str(jwks_file(StackConfig().dev_issuer_dir)),
        "OVERGANG_MASTER_KEY": base64.b64encode(run.keys.master_key).decode(),
        "OVERGANG_INDEX_KEY": base64.b64encode(run.keys.index_key).decode(),
        "OVERGANG_LOG_LEVEL": "WARNING",
    }
    log = run.keys_file.parent / f"{service}.log"
    began = time.perf_counter()
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.restart",
            service,
            f"{run.topic_prefix}restart.",
            env=environment,
            stdout=output,
            stderr=output,
        )
    try:
        async with httpx.AsyncClient() as client:
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"the {service} service stopped before it was ready: {log}")
                with contextlib.suppress(httpx.HTTPError):
                    answer = await client.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                    if answer.status_code == 200:
                        return time.perf_counter() - began
                if time.perf_counter() - began > 180:
                    raise RuntimeError(f"the {service} service was not ready in 180 s")
                await asyncio.sleep(0.05)
    finally:
        process.terminate()
        await process.wait()


async def cold_starts(bootstrap: str, run: Run, runs: int = 3) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for service, url in (("referral", run.referral_url), ("audit", run.audit_url)):
        times = [await cold_start(bootstrap, run, service, url=url) for _ in range(runs)]
        figures[service] = {
            "seconds_to_ready": [round(t, 2) for t in times],
            "median_s": round(stats.median(times), 2),
        }
    return figures


async def deadline_scan(run: Run, runs: int) -> dict[str, Any]:
    """The audit service's deadline scan as it runs every minute: the first, which raises what
    fell due since the history ended (after a cold start, the backlog), then scans with
    nothing new to raise; with the scan query's plan."""
    pool: asyncpg.Pool = await asyncpg.create_pool(run.audit_url, min_size=1, max_size=2)
    topic = f"{run.topic_prefix}deadlines"

    async def scan() -> dict[Notice, int]:
        return await scan_deadlines(
            pool, topic=topic, now=dt.datetime.now(dt.UTC), approaching_working_days=1
        )

    try:
        began = time.perf_counter()
        raised = await scan()
        first = time.perf_counter() - began
        figures = await timed(scan, runs)
        async with pool.acquire() as connection:
            recorder = Recorder(connection)
            now = dt.datetime.now(dt.UTC)
            await deadline_store.lock_watched(
                cast(Connection, recorder),
                due_before=approaching_horizon(now, 1),
                now=now,
                limit=200,
            )
            plan = await plans(connection, recorder)
            counts = await _one_row(
                connection,
                """SELECT count(*) AS deadlines,
                          count(*) FILTER (WHERE due_at IS NOT NULL AND met_at IS NULL
                                           AND closed_at IS NULL AND missed_raised_at IS NULL)
                              AS watched
                   FROM deadlines""",
            )
        return {
            "deadlines": counts["deadlines"],
            "watched": counts["watched"],
            "first_scan_s": round(first, 2),
            "first_scan_raised": {notice.value: count for notice, count in raised.items()},
            **figures,
            "plan": plan,
        }
    finally:
        await pool.close()


async def drop(bootstrap: str, run: Run) -> None:
    """The run's schemas, topics and keys, gone."""
    kafka = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await kafka.start()
    try:
        await kafka.delete_topics(
            [topic for topic in await kafka.list_topics() if topic.startswith(run.topic_prefix)]
        )
    finally:
        await kafka.close()
    admin = await asyncpg.connect(run.database_url)
    try:
        for schema in (run.referral_schema, run.audit_schema):
            await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await admin.close()
    shutil.rmtree(run.keys_file.parent, ignore_errors=True)


async def measure(
    bootstrap: str, database_url: str, referrals: int, seed: int, *, workers: int, keep: bool
) -> dict[str, Any]:
    # The machine is shared: its load says how far the figures are this code's alone.
    load_before = os.getloadavg()
    run = await prepare(run_of(database_url, referrals, seed))
    built = await build(bootstrap, run, referrals, seed, workers)
    figures = await queries(run)
    figures["cold_start"] = await cold_starts(bootstrap, run)
    if not keep:
        await drop(bootstrap, run)
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
        **built,
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
    parser.add_argument(
        "--workers", type=int, default=2, help="counties generated at once (a process each)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the run's schemas after measuring (by default they are dropped); a run "
        "stopped part way is always kept, and the same command goes on where it stopped",
    )
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
                workers=arguments.workers,
                keep=arguments.keep,
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
