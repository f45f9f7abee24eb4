"""Filing benchmark: how fast the referral service files referrals under a steady load, beside
a baseline from the same run. Figures to bench/results/filing.json. Goal: p99 < 100 ms at 200/s.

- The referral service runs as a process of its own (uvicorn, bench/filing_server.py) on the
  local stack's Kafka and a fresh PostgreSQL database of its own (dropped afterwards), trusting
  a dev token issuer of its own, logging at WARNING (no access-log line per request); the
  stack is started if it does not run, and stopped again only then.
- Set-up through the API: a follow-up service and a NAV office with an agreement between
  them, people with synthetic identity numbers, and a consent each.
- Load from another process (bench/filing_load.py): an open-loop schedule at a fixed rate
  (default 200/s for 30 s after a warm-up), latency counted from each request's due time;
  every answer that is not 2xx is an error, counted by status.
- Baseline, same run, same server: `POST /bench/baseline`, the same body through the same
  middleware, auth dependency and pool, doing ONE insert. Trials alternate baseline and
  filing; the figures are the median over trials (two cores run everything: runs vary).

`python -m bench.filing --rate 50 --duration 5 --trials 1 --output /tmp/quick.json` for a
quick run; `--profile` runs one trial with cProfile in the server and prints where its time
goes (cProfile slows it: those latencies are not the figures)."""

import argparse
import asyncio
import datetime as dt
import json
import os
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from bench.common import write_results
from bench.filing_server import BASELINE_TABLE, percentile
from deploy.local import stack
from deploy.local.config import REPOSITORY, StackConfig
from deploy.local.demo import identity_number
from deploy.local.dev_issuer import ensure_keys, issue, jwks_file
from deploy.local.postgres import database_url
from schemas.codes import Role
from schemas.ids import SubjectId

RESULTS = REPOSITORY / "bench" / "results" / "filing.json"
WORK = REPOSITORY / "var" / "bench" / "filing"
GOAL_P99_MS = 100.0
PURPOSE = "follow_up_outside_school_and_work"
SITUATION = "outside_school_and_work"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _create_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    connection = await asyncpg.connect(database_url(server_url, name))
    try:
        await connection.execute(BASELINE_TABLE)
    finally:
        await connection.close()


async def _drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


class Server:
    """The bench's referral service process."""

    def __init__(
        self, *, kafka: str, database: str, issuer: Path, profile: Path | None, tracing: bool
    ) -> None:
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.log = WORK / "server.log"
        env = {
            **os.environ,
            "OVERGANG_KAFKA_BOOTSTRAP": kafka,
            "OVERGANG_DATABASE_URL": database,
            "OVERGANG_HOST": "127.0.0.1",
            "OVERGANG_PORT": self.url.rsplit(":", 1)[1],
            "OVERGANG_AUTH_JWKS": str(jwks_file(issuer)),
            "OVERGANG_ALLOW_SYNTHETIC_IDENTITY_NUMBERS": "true",
            "OVERGANG_LOG_LEVEL": "WARNING",
        }
        if profile is not None:
            env["OVERGANG_BENCH_PROFILE"] = str(profile)
        if not tracing:
            env["OVERGANG_BENCH_NO_TRACING"] = "true"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.filing_server"],
                cwd=REPOSITORY,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the bench server stopped; see {self.log}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the bench server was not ready in {timeout_s} s; see {self.log}")

    def stop(self) -> None:
        # SIGINT: uvicorn shuts down gracefully, so a profile is written.
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _post(client: httpx.Client, path: str, body: dict[str, Any], token: str) -> Any:
    response = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    if not response.is_success:
        raise RuntimeError(f"set-up {path}: {response.status_code} {response.text[:300]}")
    return response.json()


@dataclass(frozen=True)
class FilingPlan:
    """The filing requests to cycle through, and the two organisations they go between."""

    requests: list[dict[str, Any]]
    sender: uuid.UUID
    receiver: uuid.UUID


def set_up(url: str, issuer: Path, subjects: int, filers: int) -> FilingPlan:
    """Two organisations, an agreement, people with consents: the filing requests to cycle
    through."""

    def token(organisation: uuid.UUID, role: Role, actor: uuid.UUID | None = None) -> str:
        return issue(issuer, organisation=organisation, roles=[role], actor=actor, ttl_s=7200)

    admin = token(uuid.uuid4(), Role.ADMIN)
    with httpx.Client(base_url=url, timeout=30) as client:
        organisations = [
            uuid.UUID(
                _post(
                    client,
                    "/v1/organisations",
                    {
                        "name": name,
                        "type": kind,
                        "sector": sector,
                        "county_number": "46",
                        "municipality_numbers": ["4601"],
                    },
                    admin,
                )["organisation_id"]
            )
            for name, kind, sector in (
                ("Oppfølgingstenesta (bench)", "follow_up_service", "education"),
                ("NAV Bergenhus (bench)", "nav_office", "work_welfare"),
            )
        ]
        sender, receiver = organisations
        _post(
            client,
            "/v1/agreements",
            {
                "county_number": "46",
                "valid_from": "2026-01-01",
                "parties": [str(sender), str(receiver)],
                "linkage_level": "cooperation",
                "routes": [
                    {
                        "from_organisation": {"organisation_id": str(sender)},
                        "to_organisation": {"organisation_id": str(receiver)},
                        "purposes": [PURPOSE],
                    }
                ],
                "target_groups": [{"min_age": 15, "max_age": 24, "situations": [SITUATION]}],
                "service_levels": {
                    "acknowledge_within_working_days": 2,
                    "decide_within_working_days": 10,
                    "first_contact_within_working_days": 5,
                    "follow_up_every_days": 30,
                },
            },
            token(sender, Role.ADMIN),
        )
        actors = [uuid.uuid4() for _ in range(filers)]
        filer_tokens = [token(sender, Role.FILER, actor) for actor in actors]
        people = []
        for n in range(subjects):
            # Adults (their own consent serves) in the target group's ages, seven to a day.
            birth = dt.date(2003, 1, 1) + dt.timedelta(days=n // 7)
            people.append(
                SubjectId(
                    uuid.UUID(
                        _post(
                            client,
                            "/v1/subjects",
                            {
                                "identity_number": identity_number(birth, serial=n % 7),
                                "birth_date": birth.isoformat(),
                            },
                            filer_tokens[0],
                        )["subject_id"]
                    )
                )
            )
        consents = [
            _post(
                client,
                f"/v1/subjects/{subject}/consents",
                {
                    "given_by": "person",
                    "purposes": [PURPOSE],
                    "recipient_sectors": ["work_welfare"],
                    "expires_at": "2035-12-31T23:00:00Z",
                    "collection_method": "digital_id_porten",
                },
                filer_tokens[0],
            )["consent_id"]
            for subject in people
        ]
    requests = [
        {
            "headers": {"Authorization": f"Bearer {filer_tokens[n % filers]}"},
            "json": {
                "subject_id": str(people[n]),
                "to_organisation_id": str(receiver),
                "purpose": PURPOSE,
                "situation": SITUATION,
                "consent_id": consents[n],
            },
        }
        for n in range(subjects)
    ]
    return FilingPlan(requests, sender, receiver)


def _load(plan: dict[str, Any], name: str, server_pid: int) -> dict[str, Any]:
    """Run the load process on a plan; its result, with the CPU the machine spent meanwhile
    (the machine may be shared: what others used is part of the figures' story)."""
    plan_file, result_file = WORK / f"{name}-plan.json", WORK / f"{name}-result.json"
    plan_file.write_text(json.dumps(plan))
    load = subprocess.Popen(
        [sys.executable, "-m", "bench.filing_load", str(plan_file), str(result_file)],
        cwd=REPOSITORY,
    )
    ours = {"server": psutil.Process(server_pid), "load": psutil.Process(load.pid)}
    postgres = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
    cores = psutil.cpu_count() or 1
    samples: dict[str, list[float]] = {"server": [], "load": [], "postgres": [], "machine": []}
    for process in (*ours.values(), *postgres):
        process.cpu_percent()
    psutil.cpu_percent()
    while load.poll() is None:
        time.sleep(1)
        try:
            for key, process in ours.items():
                samples[key].append(process.cpu_percent())
            samples["postgres"].append(sum(_cpu(p) for p in postgres))
            samples["machine"].append(psutil.cpu_percent() * cores)
        except psutil.NoSuchProcess:
            break
    if load.wait() != 0:
        raise RuntimeError(f"the load process failed ({load.returncode})")
    result: dict[str, Any] = json.loads(result_file.read_text())
    mean = {key: statistics.fmean(values) if values else 0.0 for key, values in samples.items()}
    result["cpu_percent_of_one_core"] = {
        **{key: round(value) for key, value in mean.items()},
        "others": round(mean["machine"] - mean["server"] - mean["load"] - mean["postgres"]),
        "cores": cores,
    }
    return result


def _wait_for_quiet(limit_s: float) -> float:
    """Wait (at most `limit_s`) until the machine, our idle server included, uses under half a
    core, so that others' work on a shared machine disturbs a trial less; what it used."""
    deadline = time.monotonic() + limit_s
    while True:
        busy = psutil.cpu_percent(interval=2) * (psutil.cpu_count() or 1)
        if busy < 50 or time.monotonic() > deadline:
            return busy
        print(f"waiting for a quieter machine: {busy:.0f}% of a core in use", flush=True)


def _cpu(process: psutil.Process) -> float:
    try:
        return process.cpu_percent()
    except psutil.NoSuchProcess:
        return 0.0


def _figures(result: dict[str, Any], server: dict[str, Any]) -> dict[str, Any]:
    ordered = sorted(result["latencies_s"])
    errors = {k: v for k, v in result["answers"].items() if not k.startswith("2")}
    return {
        "requests": result["requests"],
        **{f"p{p}_ms": round(percentile(ordered, p / 100) * 1000, 1) for p in (50, 95, 99)},
        "max_ms": round(ordered[-1] * 1000, 1),
        "offered_per_s": round(result["requests"] / result["sent_over_s"], 1),
        "achieved_per_s": round(
            (result["requests"] - sum(errors.values())) / result["completed_over_s"], 1
        ),
        "errors": sum(errors.values()),
        "errors_by_answer": errors,
        "client_max_send_lag_ms": round(result["max_send_lag_s"] * 1000, 1),
        "connections_opened": result["connections_opened"],
        "server_cpu_ms_per_request": round(
            10
            * result["cpu_percent_of_one_core"]["server"]
            * result["completed_over_s"]
            / result["requests"],
            2,
        ),
        "cpu_percent_of_one_core": result["cpu_percent_of_one_core"],
        "server_side": server,
    }


def _median(trials: list[dict[str, Any]]) -> dict[str, Any]:
    keys = (
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "offered_per_s",
        "achieved_per_s",
        "errors",
        "server_cpu_ms_per_request",
    )
    median = {key: statistics.median(t[key] for t in trials) for key in keys}
    # One process runs on one core: it cannot answer more than this many a second.
    median["one_process_cpu_bound_per_s"] = round(1000 / median["server_cpu_ms_per_request"])
    median["others_cpu_percent_of_one_core"] = statistics.median(
        t["cpu_percent_of_one_core"]["others"] for t in trials
    )
    return median


def measure(arguments: argparse.Namespace, kafka: str, server_url: str) -> dict[str, Any]:
    name = f"bench_filing_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_database(server_url, name))
    database = database_url(server_url, name)
    issuer = WORK / "dev-issuer"
    shutil.rmtree(issuer, ignore_errors=True)
    ensure_keys(issuer)
    profile = WORK / "server.prof" if arguments.profile else None
    server = Server(
        kafka=kafka,
        database=database,
        issuer=issuer,
        profile=profile,
        tracing=not arguments.no_tracing,
    )
    try:
        server.wait_ready()
        requests = set_up(server.url, issuer, arguments.subjects, 8).requests
        plan = {
            "url": server.url,
            "rate": arguments.rate,
            "duration_s": arguments.duration,
            "warmup_s": arguments.warmup,
            "reset_path": "/bench/timings",
            "requests": requests,
        }
        trials = []
        for trial in range(arguments.trials):
            figures = {}
            for kind, path, keys in (
                ("baseline", "/bench/baseline", False),
                ("filing", "/v1/referrals", not arguments.no_idempotency_keys),
            ):
                _wait_for_quiet(arguments.wait_for_quiet)
                result = _load(
                    {**plan, "path": path, "idempotency_keys": keys},
                    f"{kind}-{trial}",
                    server.process.pid,
                )
                timings = httpx.get(f"{server.url}/bench/timings", timeout=10).json()
                figures[kind] = _figures(result, timings.get(f"POST {path}", {}))
                print(f"trial {trial + 1} {kind}: {json.dumps(figures[kind])}", flush=True)
            trials.append(figures)
    finally:
        server.stop()
        asyncio.run(_drop_database(server_url, name))
    median = {kind: _median([t[kind] for t in trials]) for kind in ("baseline", "filing")}
    return {
        "setup": {
            "rate_per_s": arguments.rate,
            "duration_s": arguments.duration,
            "warmup_s": arguments.warmup,
            "trials": arguments.trials,
            "subjects": arguments.subjects,
            "filing_with_idempotency_key": not arguments.no_idempotency_keys,
            "tracing": "off (what-if)" if arguments.no_tracing else "as the service runs it",
            "load": "open loop, separate process, latency from each request's due time",
        },
        "goal": {"p99_ms_below": GOAL_P99_MS, "at_per_s": 200},
        "median": median,
        "filing_p99_met_goal": median["filing"]["p99_ms"] < GOAL_P99_MS and arguments.rate >= 200,
        "trials": trials,
    }


def _print_profile(profile: Path) -> None:
    stats = pstats.Stats(str(profile))
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="filings per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds counted")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds not counted, first")
    parser.add_argument("--trials", type=int, default=3, help="baseline and filing, each")
    parser.add_argument("--subjects", type=int, default=200, help="people to file for")
    parser.add_argument("--no-idempotency-keys", action="store_true", help="file without keys")
    parser.add_argument("--profile", action="store_true", help="cProfile the server")
    parser.add_argument(
        "--no-tracing",
        action="store_true",
        help="what-if for diagnosis: the server without a tracer provider",
    )
    parser.add_argument(
        "--wait-for-quiet",
        type=float,
        default=180.0,
        help="seconds to wait, before each run, for other processes to calm down",
    )
    parser.add_argument("--output", type=Path, help=f"default {RESULTS.relative_to(REPOSITORY)}")
    arguments = parser.parse_args(argv)
    output = arguments.output or (WORK / "profiled.json" if arguments.profile else RESULTS)
    WORK.mkdir(parents=True, exist_ok=True)

    config = StackConfig()
    state, report = stack.up(config)
    try:
        assert state.kafka is not None
        assert state.postgres is not None
        figures = measure(arguments, state.kafka.bootstrap, state.postgres.url)
    finally:
        if report.started:
            stack.down(config)
    figures = write_results(output, figures)
    print(json.dumps({"median": figures["median"]}, indent=2))
    print(f"written to {output}")
    if arguments.profile:
        _print_profile(WORK / "server.prof")


if __name__ == "__main__":
    main()
