"""Notifier benchmark: webhook deliveries per second through the notifier's delivery worker,
beside a raw httpx client posting the same signed bodies to the same receiver in the same
run; the median of 3 trials. Figures to bench/results/notifier.json.

- the receiver: its own process (uvicorn, a bare ASGI app answering 204 after reading the
  body), listening on ENDPOINTS loopback ports, one per subscription, so that each
  subscription is an endpoint of its own as in production;
- notifier: N referral.submitted events go through the consumer's use case (`notify`: routed,
  put in the inboxes, a pending delivery per subscription), then the real DeliveryWorker
  (WebhookChannel: secret opened, Standard Webhooks signature, target checked, bounded
  reading; every attempt stored and a notification event written to the outbox) with the
  service's default concurrency (64 in flight, 4 per subscription) delivers them; timed
  from the worker's start until every delivery is recorded as delivered;
- raw: the same N bodies, signed beforehand with the same secrets and webhook-ids, POSTed by
  one httpx.AsyncClient with the same total concurrency (64) to the same URLs; timed until
  every answer is in. Nothing is written anywhere.

The ratio is notifier / raw deliveries per second. The notifier does more per delivery (a
claim and a settlement transaction, an attempt row and an outbox row, a DNS and address
check, a signature), so the raw client is the ceiling, not a target to match."""

import asyncio
import datetime as dt
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import uvicorn
from standardwebhooks.webhooks import Webhook

from bench.common import service_schema, write_results
from deploy.local import stack
from deploy.local.config import REPOSITORY, TEST_DATABASE, StackConfig
from schemas.envelope import CloudEvent
from schemas.examples import example_of
from schemas.ids import ActorId, OrganisationId
from schemas.referrals import ReferralSubmittedV1
from schemas.registry import parse
from services.notifier.delivery.channels import WebhookChannel
from services.notifier.delivery.webhooks import CONTENT_TYPE, SenderSettings, WebhookSender
from services.notifier.delivery.worker import DeliveryWorker, WorkerSettings
from services.notifier.domain.deliveries import RetryPolicy
from services.notifier.domain.targets import check_url
from services.notifier.sealing import SecretBox
from services.notifier.usecases import subscriptions
from services.notifier.usecases.notify import notify

RESULTS = REPOSITORY / "bench" / "results" / "notifier.json"
DELIVERIES = int(os.environ.get("OVERGANG_BENCH_DELIVERIES", "4000"))
ENDPOINTS = 16
TRIALS = 3
# The service's defaults (services/notifier/app.py).
IN_FLIGHT = 64
PER_SUBSCRIPTION = 4
BOX = SecretBox(os.urandom(32))
# Nothing fails in this run; the policy only matters if something does.
POLICY = RetryPolicy(max_attempts=8, base_delay_s=1, max_delay_s=10, max_retry_after_s=10)


# --- the receiver, in a process of its own -----------------------------------------------


async def _receive(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI receiver: reads the whole body, answers 204."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _serve(ports: list[int]) -> None:
    sockets = []
    for port in ports:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        sockets.append(listener)
    config = uvicorn.Config(_receive, log_level="warning", access_log=False, lifespan="off")
    asyncio.run(uvicorn.Server(config).serve(sockets=sockets))


def _free_ports(count: int) -> list[int]:
    probes = [socket.socket() for _ in range(count)]
    for probe in probes:
        probe.bind(("127.0.0.1", 0))
    ports = [probe.getsockname()[1] for probe in probes]
    for probe in probes:
        probe.close()
    return ports


@asynccontextmanager
async def receiver() -> AsyncIterator[list[str]]:
    """The receiver process; the base URL of each of its endpoints."""
    ports = _free_ports(ENDPOINTS)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.notifier", "--receiver", *map(str, ports), cwd=REPOSITORY
    )
    urls = [f"http://127.0.0.1:{port}/hook" for port in ports]
    try:
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 30
            for url in urls:
                while True:
                    try:
                        await client.post(url, content=b"{}")
                        break
                    except httpx.TransportError:
                        assert time.monotonic() < deadline, "the receiver did not start"
                        await asyncio.sleep(0.1)
        yield urls
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


# --- one trial -----------------------------------------------------------------------------


def _submitted(to: uuid.UUID) -> CloudEvent:
    data = example_of(ReferralSubmittedV1).model_copy(
        update={
            "referral_id": uuid.uuid4(),
            "subject_id": uuid.uuid4(),
            "from_organisation_id": uuid.uuid4(),
            "to_organisation_id": to,
        }
    )
    return CloudEvent.of(
        data, source="/overgang/bench", event_id=uuid.uuid4(), time=dt.datetime.now(dt.UTC)
    )


async def _prepare(pool: asyncpg.Pool, urls: list[str]) -> dict[uuid.UUID, str]:
    """A webhook subscription per endpoint (each of its own organisation) and DELIVERIES
    events routed to them through the consumer's use case; the secrets by subscription."""
    secrets: dict[uuid.UUID, str] = {}
    organisations = []
    async with pool.acquire() as connection:
        for url in urls:
            organisation = uuid.uuid4()
            created = await subscriptions.create_webhook(
                connection,
                organisation_id=OrganisationId(organisation),
                actor_id=ActorId(uuid.uuid4()),
                target=check_url(url, production=False),
                event_types=[ReferralSubmittedV1.ce_type],
                box=BOX,
                now=dt.datetime.now(dt.UTC),
            )
            assert created.secret is not None
            secrets[created.subscription.subscription_id] = created.secret
            organisations.append(organisation)
        for i in range(DELIVERIES):
            event = _submitted(organisations[i % len(organisations)])
            async with connection.transaction():
                await notify(connection, parse(event), event, dt.datetime.now(dt.UTC))
    return secrets


async def _through_the_notifier(pool: asyncpg.Pool) -> float:
    worker = DeliveryWorker(
        pool,
        [
            WebhookChannel(
                WebhookSender(
                    SenderSettings(
                        production=False,
                        allow_private=True,  # the receiver is on loopback
                        max_connections_per_host=PER_SUBSCRIPTION,
                    )
                ),
                BOX,
            )
        ],
        POLICY,
        WorkerSettings(max_in_flight=IN_FLIGHT, per_subscription=PER_SUBSCRIPTION),
    )
    stop = asyncio.Event()
    began = time.perf_counter()
    running = asyncio.create_task(worker.run(stop))
    while True:
        delivered = await pool.fetchval(
            "SELECT count(*) FROM deliveries WHERE status = 'delivered'"
        )
        if delivered >= DELIVERIES:
            break
        failed = await pool.fetchval(
            "SELECT count(*) FROM delivery_attempts WHERE outcome = 'failed'"
        )
        assert not failed, f"{failed} attempts failed: the figures would not be deliveries"
        await asyncio.sleep(0.05)
    took = time.perf_counter() - began
    stop.set()
    await running
    return took


Request = tuple[str, bytes, dict[str, str]]


async def _signed(pool: asyncpg.Pool, secrets: dict[uuid.UUID, str]) -> list[Request]:
    """Every delivery as a raw client would send it: URL, body, Standard Webhooks headers."""
    rows = await pool.fetch(
        """SELECT d.delivery_id, d.subscription_id, s.url, e.body
           FROM deliveries d JOIN subscriptions s USING (subscription_id)
                JOIN notified_events e USING (event_id)"""
    )
    now = dt.datetime.now(dt.UTC)
    requests = []
    for row in rows:
        webhook_id = str(row["delivery_id"])
        secret = secrets[row["subscription_id"]]
        requests.append(
            (
                row["url"],
                row["body"].encode(),
                {
                    "Content-Type": CONTENT_TYPE,
                    "webhook-id": webhook_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": Webhook(secret).sign(webhook_id, now, row["body"]),
                },
            )
        )
    return requests


async def _raw(requests: list[Request]) -> float:
    queue: asyncio.Queue[Request] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def post(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            url, body, headers = queue.get_nowait()
            response = await client.post(url, content=body, headers=headers)
            assert response.status_code == 204, response.status_code

    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        began = time.perf_counter()
        await asyncio.gather(*(post(client) for _ in range(IN_FLIGHT)))
        return time.perf_counter() - began


async def trial(database_url: str, urls: list[str]) -> dict[str, float]:
    async with service_schema(database_url, "notifier") as url:
        pool: asyncpg.Pool = await asyncpg.create_pool(url, min_size=2, max_size=10)
        try:
            began = time.perf_counter()
            secrets = await _prepare(pool, urls)
            routed_s = time.perf_counter() - began
            notifier_s = await _through_the_notifier(pool)
            requests = await _signed(pool, secrets)
            assert len(requests) == DELIVERIES
            attempts = await pool.fetchval("SELECT count(*) FROM delivery_attempts")
            assert attempts == DELIVERIES, attempts  # one attempt each: nothing was retried
        finally:
            await pool.close()
    raw_s = await _raw(requests)
    return {"routed_s": routed_s, "notifier_s": notifier_s, "raw_s": raw_s}


async def measure(database_url: str) -> dict[str, Any]:
    async with receiver() as urls:
        trials = [await trial(database_url, urls) for _ in range(TRIALS)]
    ratios = [t["raw_s"] / t["notifier_s"] for t in trials]
    middle = sorted(ratios)[len(ratios) // 2]
    median = trials[ratios.index(middle)]
    return {
        "deliveries": DELIVERIES,
        "endpoints": ENDPOINTS,
        "in_flight": IN_FLIGHT,
        "in_flight_per_subscription": PER_SUBSCRIPTION,
        "trials": TRIALS,
        "notifier_to_raw_ratios": sorted(round(r, 3) for r in ratios),
        "notifier_to_raw_ratio_median": round(middle, 3),
        "median_trial": {
            "raw_httpx_deliveries_per_s": round(DELIVERIES / median["raw_s"]),
            "notifier_deliveries_per_s": round(DELIVERIES / median["notifier_s"]),
            "routed_events_per_s": round(DELIVERIES / median["routed_s"]),
        },
        "notes": "notifier: the DeliveryWorker from a table of pending deliveries, every "
        "attempt stored and a notification event written per delivery; raw: one httpx client "
        "posting the same pre-signed bodies with the same total concurrency; routed: events "
        "through the consumer's use case (routing, inbox, deliveries), one transaction each. "
        "The receiver (one Python process), PostgreSQL and the sender share the machine's "
        "cores: the raw rate is this receiver's ceiling here, so the ratio says how near the "
        "notifier comes to it, not how it would fare against a faster receiver",
    }


def main() -> None:
    if sys.argv[1:2] == ["--receiver"]:
        _serve([int(port) for port in sys.argv[2:]])
        return
    config = StackConfig()
    state, report = stack.up(config)
    try:
        assert state.postgres is not None
        figures = asyncio.run(measure(state.postgres.databases[TEST_DATABASE]))
    finally:
        if report.started:
            stack.down(config)
    print(json.dumps(write_results(RESULTS, figures), indent=2))


if __name__ == "__main__":
    main()
