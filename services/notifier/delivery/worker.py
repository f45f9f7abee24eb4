"""The delivery worker: claims due deliveries (FOR UPDATE SKIP LOCKED, with a lease, so that
several workers share the queue and a crashed one's claims come free again), attempts each
in a task of its own through its channel (webhook or e-mail, see channels.py), and settles
it: the same retries, backoff and dead letters for every channel.

One slow or dead endpoint never delays the others: at most `per_subscription` attempts of
one subscription are in flight at once (the rest of its queue waits in the database, not in
a task), under a global cap of `max_in_flight`; every attempt is bounded by the sender's
timeouts."""

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from opentelemetry import propagate, trace

from schemas.ids import SubscriptionId
from schemas.notifications import Channel
from services.notifier.delivery.channels import ChannelSender, unusable
from services.notifier.domain.deliveries import RetryPolicy
from services.notifier.metrics import DELIVERY_ATTEMPTS
from services.notifier.store.deliveries import NEW_DELIVERIES, Claimed
from services.notifier.usecases import deliveries
from services.notifier.usecases.clock import now as utc_now
from services.plumbing.database import DATABASE_ERRORS

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

_DATABASE_ERRORS = DATABASE_ERRORS


@dataclass(frozen=True)
class WorkerSettings:
    max_in_flight: int = 64
    per_subscription: int = 4
    poll_s: float = 1.0
    # Longer than any attempt can take; after it an unsettled claim is free again.
    lease_s: float = 120.0
    stop_grace_s: float = 10.0


def _attempt_span(claim: Claimed) -> "AbstractContextManager[trace.Span]":
    """The span of one attempt, in the trace of the event's handling."""
    delivery = claim.delivery
    return tracer.start_as_current_span(
        f"{delivery.channel.value} deliver",
        context=propagate.extract(dict(claim.trace_context)),
        kind=trace.SpanKind.CLIENT,
        attributes={
            "messaging.message.id": str(delivery.event_id),
            "overgang.delivery.id": str(delivery.delivery_id),
            "overgang.delivery.attempt": delivery.attempts + 1,
            "overgang.subscription.id": str(delivery.subscription_id),
        },
    )


def _lost(listener: "PoolConnectionProxy[asyncpg.Record]") -> bool:
    """Whether the listening connection is gone. When the database ends a pooled connection,
    asyncpg takes it back from its proxy, which then raises on every call: gone too."""
    try:
        return listener.is_closed()
    except asyncpg.InterfaceError:
        return True


class DeliveryWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        channels: Sequence[ChannelSender],
        policy: RetryPolicy,
        settings: WorkerSettings,
        *,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.pool = pool
        # Deliveries of a channel this worker has no sender for wait for a worker that has.
        self.channels: dict[Channel, ChannelSender] = {c.channel: c for c in channels}
        self.policy = policy
        self.settings = settings
        self.jitter = jitter
        self.clock = clock
        self.in_flight: Counter[SubscriptionId] = Counter()
        self.tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due deliveries now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        pause = self.settings.poll_s
        listener: PoolConnectionProxy[asyncpg.Record] | None = None
        try:
            while not stop.is_set():
                if listener is None or _lost(listener):
                    listener = await self._listen(listener)
                try:
                    await self._fill()
                    pause = self.settings.poll_s
                except asyncpg.UndefinedTableError:
                    pass  # not migrated yet
                except _DATABASE_ERRORS as error:
                    log.warning(
                        "delivery worker cannot reach its database: %s", type(error).__name__
                    )
                    pause = min(pause * 2, 10.0)
                self._wake.clear()
                waits = [
                    asyncio.ensure_future(self._wake.wait()),
                    asyncio.ensure_future(stop.wait()),
                ]
                await asyncio.wait(waits, timeout=pause, return_when=asyncio.FIRST_COMPLETED)
                for waiting in waits:
                    waiting.cancel()
        finally:
            if listener is not None:
                with contextlib.suppress(*_DATABASE_ERRORS):
                    await listener.remove_listener(NEW_DELIVERIES, self._on_new_deliveries)
                with contextlib.suppress(*_DATABASE_ERRORS):
                    await self.pool.release(listener)
            await self._finish()

    async def _listen(
        self, lost: "PoolConnectionProxy[asyncpg.Record] | None"
    ) -> "PoolConnectionProxy[asyncpg.Record] | None":
        """A connection that hears of new deliveries as their transactions commit (so that
        they go out at once, not at the next poll); None while the database is away (the
        worker polls meanwhile, and tries again at its next turn)."""
        if lost is not None:
            with contextlib.suppress(*_DATABASE_ERRORS):
                await self.pool.release(lost)
        try:
            listener: PoolConnectionProxy[asyncpg.Record] = await self.pool.acquire()
        except _DATABASE_ERRORS:
            return None
        try:
            await listener.add_listener(NEW_DELIVERIES, self._on_new_deliveries)
            # Losing it wakes the worker, to listen again and catch up at once.
            listener.add_termination_listener(self._on_new_deliveries)
        except _DATABASE_ERRORS:
            await self.pool.release(listener)
            return None
        return listener

    def _on_new_deliveries(self, *_: object) -> None:
        self._wake.set()

    async def _fill(self) -> None:
        free = self.settings.max_in_flight - len(self.tasks)
        if free <= 0:
            return
        async with self.pool.acquire() as connection:
            claimed = await deliveries.claim_due(
                connection,
                now=self.clock(),
                in_flight=dict(self.in_flight),
                per_subscription=self.settings.per_subscription,
                free=free,
                lease_s=self.settings.lease_s,
                channels=list(self.channels),
            )
        for claim in claimed:
            subscription = claim.delivery.subscription_id
            self.in_flight[subscription] += 1
            task = asyncio.create_task(
                self._attempt(claim), name=f"{claim.delivery.channel.value}-attempt"
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _attempt(self, claim: Claimed) -> None:
        subscription = claim.delivery.subscription_id
        try:
            started_at = self.clock()
            sender = self.channels.get(claim.delivery.channel)
            with _attempt_span(claim) as span:
                if sender is None:
                    result = unusable(f"no_{claim.delivery.channel.value}_sender")
                else:
                    result = await sender.attempt(claim)
                span.set_attribute("overgang.delivery.delivered", result.delivered)
            try:
                async with self.pool.acquire() as connection:
                    settled = await deliveries.settle(
                        connection,
                        claim,
                        result,
                        started_at=started_at,
                        policy=self.policy,
                        now=self.clock(),
                        jitter=self.jitter(),
                    )
            except _DATABASE_ERRORS as error:
                # The lease runs out and the delivery is attempted again (same webhook-id).
                log.warning(
                    "attempt of delivery %s not recorded: %s",
                    claim.delivery.delivery_id,
                    type(error).__name__,
                )
                return
            if settled is not None:
                DELIVERY_ATTEMPTS.labels(settled.channel.value, settled.status.value).inc()
            if settled is None:
                log.warning("delivery %s: lease lost before settling", claim.delivery.delivery_id)
        finally:
            self.in_flight[subscription] -= 1
            if self.in_flight[subscription] <= 0:
                del self.in_flight[subscription]
            self._wake.set()

    async def _finish(self) -> None:
        """Lets attempts under way end (within the grace), cancels the rest: their leases run
        out and they are attempted again."""
        if self.tasks:
            _, pending = await asyncio.wait(set(self.tasks), timeout=self.settings.stop_grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        for sender in self.channels.values():
            await sender.close()
