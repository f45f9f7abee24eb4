"""Webhooks end to end below the HTTP API: events consumed from a real Kafka topic become
deliveries, which the worker POSTs to a real receiver on loopback, signed by the Standard
Webhooks specification, retried and dead-lettered by the rules, each attempt stored."""

import asyncio
import json
import time
import uuid

import asyncpg
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from schemas.ids import OrganisationId
from schemas.notifications import NotificationDeliveredV1
from schemas.registry import parse
from services.notifier.consumers.domain_events import handle
from services.notifier.store.deliveries import NEW_DELIVERIES
from services.notifier.usecases import deliveries
from services.notifier.usecases.clock import now
from services.plumbing.binding import to_record
from tests.conftest import NewTopicFactory
from tests.integration.notifier.conftest import running_worker, submitted, subscribe
from tests.integration.notifier.receiver import Receiver
from tests.integration.plumbing.consumer_helpers import (
    RunningConsumer,
    eventually,
    make_consumer,
    publish,
    rewind_group,
)
from tests.servers import Servers

pytestmark = pytest.mark.integration


async def _rows(pool: asyncpg.Pool, sql: str, *args: object) -> list[asyncpg.Record]:
    return list(await pool.fetch(sql, *args))


async def _status(pool: asyncpg.Pool) -> list[str]:
    return [row["status"] for row in await _rows(pool, "SELECT status FROM deliveries")]


async def test_deliveries_verify_with_the_standard_webhooks_library_and_not_with_another_secret(
    servers: Servers, new_topic: NewTopicFactory, pool: asyncpg.Pool, receiver: Receiver
) -> None:
    sender, to = uuid.uuid4(), uuid.uuid4()
    _, secret = await subscribe(pool, to, receiver.url("to"))
    _, sender_secret = await subscribe(pool, sender, receiver.url("sender"))
    topic = await new_topic("notifier")
    event = submitted(sender, to)
    unrelated = submitted(uuid.uuid4(), uuid.uuid4())
    await publish(servers, topic, [to_record(event), to_record(unrelated)])

    async with (
        RunningConsumer(servers, make_consumer(servers, topic, pool, handle)),
        running_worker(pool),
    ):
        await eventually(lambda: _received(receiver, 2))

    for path, key in (("to", secret), ("sender", sender_secret)):
        [request] = receiver.requests(path)
        assert request.headers["content-type"].startswith("application/cloudevents+json")
        body = Webhook(key).verify(request.body, request.headers)
        assert body["id"] == str(event.id)
        assert body["type"] == event.type
        assert body["specversion"] == "1.0"
        assert body["data"]["referral_id"] == event.data["referral_id"]
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "QUJD" * 8).verify(request.body, request.headers)
    # The stable id: the delivery's id.
    ids = {row["delivery_id"] for row in await _rows(pool, "SELECT delivery_id FROM deliveries")}
    assert {uuid.UUID(r.headers["webhook-id"]) for r in receiver.received} == ids
    # Nothing for the unrelated referral: no subscription of its organisations.
    assert len(receiver.received) == 2


async def _received(receiver: Receiver, count: int) -> bool:
    return len(receiver.received) >= count


async def test_new_deliveries_go_out_as_they_commit_not_at_the_next_poll(
    servers: Servers, new_topic: NewTopicFactory, pool: asyncpg.Pool, receiver: Receiver
) -> None:
    to = uuid.uuid4()
    await subscribe(pool, to, receiver.url("to"))
    topic = await new_topic("notifier")

    # The worker polls every ten minutes: only the notice of the consumer's commit can wake
    # it within the test's 20 seconds.
    async with (
        running_worker(pool, poll_s=600),
        RunningConsumer(servers, make_consumer(servers, topic, pool, handle)),
    ):
        await asyncio.sleep(1)  # the worker's first look, at start, finds nothing
        await publish(servers, topic, [to_record(submitted(uuid.uuid4(), to))])
        await eventually(lambda: _received(receiver, 1), within_s=20)


async def test_the_worker_listens_again_when_the_database_ends_its_connection(
    servers: Servers, pool: asyncpg.Pool, receiver: Receiver
) -> None:
    to = uuid.uuid4()
    await subscribe(pool, to, receiver.url("to"))

    async with running_worker(pool, poll_s=600):
        await asyncio.sleep(1)  # listening, and waiting for news
        admin = await asyncpg.connect(servers.database_url)
        try:
            # As a restarting server, or a failover, would: the listening connection ends.
            ended = await admin.fetchval(
                """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                   WHERE query LIKE 'LISTEN %' || $1 || '%'""",
                NEW_DELIVERIES,
            )
        finally:
            await admin.close()
        assert ended == 1
        await asyncio.sleep(1)
        async with pool.acquire() as connection, connection.transaction():
            event = submitted(uuid.uuid4(), to)
            await handle(connection, parse(event), event)
        # Only a new listener can hear of it before the next poll, ten minutes away.
        await eventually(lambda: _received(receiver, 1), within_s=20)


async def test_a_receiver_failing_twice_gets_one_delivery_after_three_stored_attempts(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    to = uuid.uuid4()
    await subscribe(pool, to, receiver.url("flaky"))
    receiver.answer("flaky", 500, 503, then=200)
    async with pool.acquire() as connection, connection.transaction():
        event = submitted(uuid.uuid4(), to)
        await handle(connection, parse(event), event)

    async with running_worker(pool):
        await eventually(lambda: _all(pool, "delivered"))

    attempts = await _rows(
        pool, "SELECT outcome, status_code, failure FROM delivery_attempts ORDER BY attempt"
    )
    assert [(a["outcome"], a["status_code"]) for a in attempts] == [
        ("failed", 500),
        ("failed", 503),
        ("delivered", 200),
    ]
    assert len({r.headers["webhook-id"] for r in receiver.requests("flaky")}) == 1
    types = [
        row["type"]
        for row in await _rows(
            pool, "SELECT headers->>'ce_type' AS type FROM outbox ORDER BY position"
        )
    ]
    assert types == [
        "no.overgang.notification.failed.v1",
        "no.overgang.notification.failed.v1",
        NotificationDeliveredV1.ce_type,
    ]


async def _all(pool: asyncpg.Pool, status: str) -> bool:
    found = await _status(pool)
    return bool(found) and all(s == status for s in found)


async def test_an_always_failing_receiver_is_dead_lettered_and_retried_by_hand_once_fixed(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    to = uuid.uuid4()
    await subscribe(pool, to, receiver.url("down"))
    receiver.answer("down", then=500)
    async with pool.acquire() as connection, connection.transaction():
        event = submitted(uuid.uuid4(), to)
        await handle(connection, parse(event), event)

    async with running_worker(pool) as worker:
        await eventually(lambda: _all(pool, "dead_lettered"))
        assert len(receiver.requests("down")) == 3  # the policy's N
        receiver.answer("down", then=204)
        [row] = await _rows(pool, "SELECT delivery_id FROM deliveries")
        async with pool.acquire() as connection:
            await deliveries.retry_by_hand(
                connection, OrganisationId(to), row["delivery_id"], now()
            )
        worker.wake()
        await eventually(lambda: _all(pool, "delivered"))
    assert len(receiver.requests("down")) == 4
    assert len({r.headers["webhook-id"] for r in receiver.requests("down")}) == 1
    [attempts] = await _rows(pool, "SELECT attempts FROM deliveries")
    assert attempts["attempts"] == 4


async def test_a_slow_receiver_does_not_delay_deliveries_to_a_fast_one(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    slow_org, fast_org = uuid.uuid4(), uuid.uuid4()
    await subscribe(pool, slow_org, receiver.url("slow"))
    await subscribe(pool, fast_org, receiver.url("fast"))
    receiver.delay("slow", 3.0)
    async with pool.acquire() as connection, connection.transaction():
        # The slow endpoint's deliveries come first in the queue.
        for _ in range(20):
            event = submitted(uuid.uuid4(), slow_org)
            await handle(connection, parse(event), event)
        for _ in range(20):
            event = submitted(uuid.uuid4(), fast_org)
            await handle(connection, parse(event), event)

    started = time.monotonic()
    async with running_worker(pool, max_in_flight=4, per_subscription=2, timeout_s=10):
        await eventually(lambda: _received_at(receiver, "fast", 20), within_s=30)
        fast_done = time.monotonic() - started
        slow_so_far = len(receiver.requests("slow"))
    # Twenty fast deliveries while the slow endpoint holds two of the four slots for 3 s.
    assert fast_done < 2.5, fast_done
    assert slow_so_far <= 4


async def _received_at(receiver: Receiver, path: str, count: int) -> bool:
    return len(receiver.requests(path)) >= count


async def test_a_target_resolving_to_a_private_address_is_refused_at_delivery(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    to = uuid.uuid4()
    await subscribe(pool, to, receiver.url("internal"))
    async with pool.acquire() as connection, connection.transaction():
        event = submitted(uuid.uuid4(), to)
        await handle(connection, parse(event), event)

    async with running_worker(pool, allow_private=False):
        await eventually(lambda: _all(pool, "dead_lettered"))
    assert receiver.requests("internal") == []
    [attempt] = await _rows(pool, "SELECT error_class FROM delivery_attempts")
    assert attempt["error_class"] == "unsafe_target:loopback"


async def test_redelivered_kafka_records_send_nothing_twice(
    servers: Servers, new_topic: NewTopicFactory, pool: asyncpg.Pool, receiver: Receiver
) -> None:
    to = uuid.uuid4()
    await subscribe(pool, to, receiver.url("once"))
    topic = await new_topic("notifier")
    events = [submitted(uuid.uuid4(), to) for _ in range(10)]
    await publish(servers, topic, [to_record(event) for event in events])
    consumer = make_consumer(servers, topic, pool, handle)

    async with RunningConsumer(servers, consumer), running_worker(pool):
        await eventually(lambda: _received_at(receiver, "once", 10))
    # Rewind the group to the start: every record comes again, and is a duplicate.
    await rewind_group(servers, topic, consumer.group)
    async with RunningConsumer(servers, consumer), running_worker(pool):
        await eventually(lambda: _duplicates(consumer.totals.duplicates, 10))
        await asyncio.sleep(0.5)  # time for a second webhook, were one made

    requests = receiver.requests("once")
    assert len(requests) == 10
    assert len({r.headers["webhook-id"] for r in requests}) == 10
    assert {json.loads(r.body)["id"] for r in requests} == {str(e.id) for e in events}
    [count] = await _rows(pool, "SELECT count(*) AS n FROM delivery_attempts")
    assert count["n"] == 10


async def _duplicates(found: int, expected: int) -> bool:
    return found >= expected
