"""End-to-end latency: referrals filed at a fixed rate through the referral service's API; for
each, the time from the HTTP response to (a) its signed webhook arriving at a receiver here,
through outbox, Kafka, the notifier's consumer and its delivery worker, and (b) its row
existing in the audit log, through Kafka and the audit service's consumer. Beside it, in the
same run, the Kafka round trip of a raw aiokafka produce -> consume at the same rate. Also the
resident memory of each service, idle and after the load. Figures to bench/results/e2e.json.

The three services run as their own processes on the local stack (started if they are not).
Goal: p99 under 500 ms at 50 referrals/s.

`python -m bench.e2e --rate 50 --seconds 30`"""

import argparse
import asyncio
import json
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bench.common import write_results
from bench.filing import FilingPlan, set_up
from bench.filing_server import percentile
from deploy.local import stack
from deploy.local.config import REPOSITORY, StackConfig
from deploy.local.dev_issuer import issue
from deploy.local.state import StackState
from schemas.codes import Role

RESULTS = REPOSITORY / "bench" / "results" / "e2e.json"
GOAL_P99_MS = 500
SUBMITTED = "no.overgang.referral.submitted.v1"
WARM_UP = 5
SERVICES = ("referral", "notifier", "audit")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class WebhookReceiver:
    """An ASGI app that verifies each delivery (standardwebhooks) and notes when each
    referral's `submitted` arrived; a delivery that does not verify is counted, not noted."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.arrived: dict[str, float] = {}
        self.refused = 0
        self.repeated = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        at = time.time()
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        status = 204
        try:
            if self.secret is None:
                raise WebhookVerificationError("no secret yet")
            event = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            self.refused += 1
            status = 401
        else:
            if event.get("type") == SUBMITTED:
                referral = str(event["data"]["referral_id"])
                if referral in self.arrived:
                    self.repeated += 1
                self.arrived.setdefault(referral, at)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def watch_audit(audit_url: str, seen: dict[str, float], stop: asyncio.Event) -> None:
    """Note when each referral's `submitted` row appears in the audit log (every 10 ms)."""
    connection = await asyncpg.connect(audit_url)
    try:
        last = await connection.fetchval("SELECT coalesce(max(sequence), 0) FROM audit_log")
        while not stop.is_set():
            rows = await connection.fetch(
                """SELECT sequence, CASE WHEN type = $2 THEN
                          convert_from(payload, 'UTF8')::jsonb #>> '{data,referral_id}' END
                          AS referral
                   FROM audit_log WHERE sequence > $1 ORDER BY sequence""",
                last,
                SUBMITTED,
            )
            at = time.time()
            for row in rows:
                last = row["sequence"]
                if row["referral"] is not None:
                    seen.setdefault(row["referral"], at)
            await asyncio.sleep(0.01)
    finally:
        await connection.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _subscribe(notifier_url: str, issuer: Path, plan: FilingPlan, url: str) -> str:
    """The receiving organisation's webhook subscription to `submitted`; its secret."""
    token = issue(issuer, organisation=plan.receiver, roles=[Role.ADMIN], ttl_s=7200)
    response = httpx.post(
        f"{notifier_url}/v1/subscriptions",
        json={"url": url, "event_types": [SUBMITTED]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    secret: str = response.json()["secret"]
    return secret


async def _file(
    client: httpx.AsyncClient, request: dict[str, Any], responded: dict[str, float]
) -> None:
    response = await client.post("/v1/referrals", **request)
    at = time.time()
    if response.status_code != 201:
        raise RuntimeError(f"filing: {response.status_code} {response.text[:300]}")
    responded[str(response.json()["referral_id"])] = at


async def _file_at_rate(
    referral_url: str, requests: list[dict[str, Any]], rate: float
) -> dict[str, float]:
    """File each request at its moment (open loop); when each response came."""
    responded: dict[str, float] = {}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=referral_url, timeout=30, limits=limits) as client:
        began = time.monotonic()
        tasks = []
        for n, request in enumerate(requests):
            delay = began + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_file(client, request, responded)))
        await asyncio.gather(*tasks)
    return responded


async def _until_all(wanted: dict[str, float], seen: dict[str, float], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while any(key not in seen for key in wanted) and time.monotonic() < deadline:  # noqa: ASYNC110 - dicts, polled
        await asyncio.sleep(0.05)


def _latencies_ms(responded: dict[str, float], seen: dict[str, float]) -> dict[str, Any]:
    values = sorted((seen[k] - t) * 1000 for k, t in responded.items() if k in seen)
    return {
        "count": len(values),
        "missing": len(responded) - len(values),
        "p50_ms": round(percentile(values, 0.50), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
        "max_ms": round(values[-1], 1) if values else None,
    }


async def raw_round_trip(bootstrap: str, rate: float, count: int) -> dict[str, Any]:
    """aiokafka produce -> consume of `count` small records at `rate`: the floor any path
    through Kafka stands on."""
    topic = f"bench.e2e.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 6, 1)])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-e2e-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await consumer.start()
    await producer.start()
    sent: dict[str, float] = {}
    received: dict[str, float] = {}

    async def consume() -> None:
        while len(received) < count:
            batches = await consumer.getmany(timeout_ms=100)
            at = time.time()
            for records in batches.values():
                for record in records:
                    assert record.value is not None
                    received.setdefault(record.value.decode(), at)

    try:
        consuming = asyncio.create_task(consume())
        began = time.monotonic()
        for n in range(count):
            delay = began + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            key = str(n)
            sent[key] = time.time()
            await producer.send(topic, key.encode(), key=key.encode())
        await asyncio.wait_for(consuming, 60)
    finally:
        await producer.stop()
        await consumer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()
    return _latencies_ms(sent, received)


def _memory_mib(state: StackState) -> dict[str, float]:
    """Each service's resident memory."""
    return {
        name: round(psutil.Process(state.services[name].process.pid).memory_info().rss / 2**20, 1)
        for name in SERVICES
    }


async def measure(config: StackConfig, rate: float, seconds: float) -> dict[str, Any]:
    state = StackState.load(config.state_file)
    assert state.kafka is not None
    assert state.postgres is not None
    urls = {name: state.services[name].url for name in SERVICES}
    count = round(rate * seconds)
    plan = await asyncio.to_thread(
        set_up, urls["referral"], config.dev_issuer_dir, WARM_UP + count, 8
    )
    receiver = WebhookReceiver()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(receiver, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    stop = asyncio.Event()
    audited: dict[str, float] = {}
    watching = asyncio.create_task(watch_audit(state.postgres.databases["audit"], audited, stop))
    try:
        receiver.secret = await asyncio.to_thread(
            _subscribe,
            urls["notifier"],
            config.dev_issuer_dir,
            plan,
            f"http://127.0.0.1:{port}/e2e",
        )
        idle = _memory_mib(state)
        # Warm up: the consumers of a fresh stack take a while to join their groups.
        warm = await _file_at_rate(urls["referral"], plan.requests[:WARM_UP], rate)
        await _until_all(warm, receiver.arrived, 180)
        await _until_all(warm, audited, 180)
        responded = await _file_at_rate(urls["referral"], plan.requests[WARM_UP:], rate)
        await _until_all(responded, receiver.arrived, 60)
        await _until_all(responded, audited, 60)
        loaded = _memory_mib(state)
    finally:
        stop.set()
        await watching
        server.should_exit = True
        await serving
    raw = await raw_round_trip(state.kafka.bootstrap, rate, count)
    webhook = _latencies_ms(responded, receiver.arrived)
    audit = _latencies_ms(responded, audited)
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "referrals": count,
        "filing_response_to_webhook": webhook,
        "filing_response_to_audit_row": audit,
        "raw_aiokafka_round_trip": raw,
        "webhooks_refused": receiver.refused,
        "webhooks_repeated": receiver.repeated,
        "goal_p99_ms": GOAL_P99_MS,
        "goal_met": {
            "webhook": webhook["missing"] == 0 and webhook["p99_ms"] < GOAL_P99_MS,
            "audit": audit["missing"] == 0 and audit["p99_ms"] < GOAL_P99_MS,
        },
        "resident_memory_mib": {"idle": idle, "after_load": loaded},
        "notes": "three service processes, Kafka, PostgreSQL and this process (the load, the "
        "webhook receiver, the audit watcher polling every 10 ms) share the machine's cores; "
        "times are wall-clock from the filing's HTTP response",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__)
    parser.add_argument("--rate", type=float, default=50, help="referrals filed per second")
    parser.add_argument("--seconds", type=float, default=30, help="how long the load lasts")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the figures go")
    arguments = parser.parse_args(argv)
    config = StackConfig()
    _, report = stack.up(config, with_services=True)
    try:
        figures = asyncio.run(measure(config, arguments.rate, arguments.seconds))
    finally:
        # A stack this run started is stopped; services it started beside a running stack
        # stay up, as `make up` would have left them (`make down` stops them).
        if "kafka" in report.started:
            stack.down(config)
    print(json.dumps(write_results(arguments.output, figures), indent=2))


if __name__ == "__main__":
    main()
