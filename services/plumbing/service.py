"""Builds a service's HTTP app: settings, database pool, Kafka, consumers, health and error
handling."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from importlib.resources.abc import Traversable
from typing import Any

import asyncpg
import uvicorn
from aiokafka.errors import KafkaError
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import make_asgi_app

from services.plumbing.auth import JwksSource, TokenVerifier
from services.plumbing.consumer import ConsumerSpec, EventConsumer
from services.plumbing.database import create_pool, database_answers
from services.plumbing.dead_letters import DeadLetterPublisher
from services.plumbing.health import health_router
from services.plumbing.kafka import KafkaLink, create_broker, metadata_answers
from services.plumbing.limits import install_request_limits
from services.plumbing.migrations import MigrationError, migrate
from services.plumbing.openapi import declare_problem_responses
from services.plumbing.outbox import OutboxRelay, RelaySettings, sleep_unless
from services.plumbing.problems import install_problem_handlers
from services.plumbing.settings import ServiceSettings
from services.plumbing.tables import create_plumbing_tables
from services.plumbing.telemetry import (
    HttpMetrics,
    TraceContextPassThrough,
    TraceExporter,
    configure_logging,
    configure_tracing,
)

log = logging.getLogger(__name__)


class DatabaseDuties:
    """What a service does with its database in the background: migrate it (retrying while
    it is away), then relay its outbox to Kafka."""

    def __init__(self, settings: ServiceSettings, migrations: Traversable | None) -> None:
        self.settings = settings
        self.migrations = migrations
        self.migrated = False
        self.relay = OutboxRelay(
            settings.database_url.get_secret_value(),
            RelaySettings(
                settings.kafka_bootstrap,
                # One per service: its relays fence each other and share their progress.
                transactional_id=f"overgang-{settings.service_name}-outbox",
                name=f"{settings.service_name}-outbox-relay",
            ),
        )

    async def run(self, stop: asyncio.Event) -> None:
        pause = 0.5
        while not stop.is_set() and not self.migrated:
            try:
                connection = await asyncpg.connect(self.settings.database_url.get_secret_value())
                try:
                    if self.migrations is None:
                        await create_plumbing_tables(connection)
                    else:
                        applied = await migrate(connection, self.migrations)
                        if applied:
                            log.info("migrations applied: %s", ", ".join(applied))
                finally:
                    await connection.close()
                self.migrated = True
            except (OSError, asyncpg.PostgresError, MigrationError) as error:
                log.error("the database cannot be migrated yet: %s", error)
                await sleep_unless(stop, pause)
                pause = min(pause * 2, 10.0)
        if not stop.is_set():
            await self.relay.run(stop)


class ServiceConsumers:
    """The service's consumers, on a broker of their own: subscribed when the service starts,
    consuming only once its database is migrated (their inbox table, and the tables their
    handlers write, must exist) and Kafka answers. What they cannot handle goes to each
    topic's dead-letter topic through one publisher."""

    def __init__(
        self, settings: ServiceSettings, specs: Sequence[ConsumerSpec], pool: asyncpg.Pool
    ) -> None:
        self.settings = settings
        self.broker = KafkaBroker(
            settings.kafka_bootstrap,
            client_id=f"overgang-{settings.service_name}-consumers",
            # FastStream's "Received"/"Processed" lines, one pair per record, at DEBUG: at
            # INFO they were most of every log (a short end-to-end run wrote 90,000 lines).
            # Failures are still logged, at ERROR.
            log_level=logging.DEBUG,
        )
        self.dead_letters = self._publisher()
        self.consumers = [
            EventConsumer.of(spec, pool=pool, dead_letters=self.dead_letters) for spec in specs
        ]
        for consumer in self.consumers:
            consumer.subscribe(self.broker)
        self.running = False

    def _publisher(self) -> DeadLetterPublisher:
        return DeadLetterPublisher(
            self.settings.kafka_bootstrap,
            client_id=f"overgang-{self.settings.service_name}-dead-letters",
        )

    async def run(self, migrated: Callable[[], bool], stop: asyncio.Event) -> None:
        """Wait until the database is migrated, then start consuming, retrying while Kafka
        does not answer; returns once consuming (or stopped)."""
        while not migrated():
            if await sleep_unless(stop, 0.1):
                return
        while not stop.is_set():
            # Probe first: a broker whose start fails leaves its producer behind.
            if await metadata_answers(self.settings.kafka_bootstrap):
                try:
                    await self.dead_letters.start()
                    await self.broker.start()
                except (KafkaError, OSError) as error:
                    log.warning("consumers cannot start yet (%s); retrying", type(error).__name__)
                    await self._stop_clients()
                    # A stopped producer cannot start again.
                    self.dead_letters = self._publisher()
                    for consumer in self.consumers:
                        consumer.dead_letters = self.dead_letters
                else:
                    self.running = True
                    log.info(
                        "consuming %s", ", ".join(consumer.topic for consumer in self.consumers)
                    )
                    return
            await sleep_unless(stop, self.settings.kafka_retry_s)

    async def answers(self, timeout_s: float) -> bool:
        return self.running and await self.broker.ping(timeout_s)

    async def stop(self) -> None:
        """Stop consuming: a batch under way is not acknowledged and comes again."""
        self.running = False
        await self._stop_clients()

    async def _stop_clients(self) -> None:
        await self.broker.stop()
        await self.dead_letters.stop()


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    migrations: Traversable | None = None,
    consumers: Sequence[ConsumerSpec] = (),
    media_types: Mapping[str, Sequence[str]] | None = None,
) -> FastAPI:
    """The FastAPI app every service starts from; nothing connects until it starts.

    `consumers` run on the service's pool once its migrations are applied; until they consume,
    the `kafka` readiness check says unavailable (once the schema is there: before that the
    `schema` check says why the service is not ready). Request bodies must be JSON, but on
    the paths of `media_types`, which name the media types they take instead."""
    link = KafkaLink(
        create_broker(settings), settings.kafka_bootstrap, retry_s=settings.kafka_retry_s
    )
    duties = DatabaseDuties(settings, migrations)
    specs = tuple(consumers)
    running: ServiceConsumers | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal running
        app.state.pool = await create_pool(settings)
        app.state.kafka = link
        link.start()
        stop = asyncio.Event()
        background = asyncio.create_task(duties.run(stop), name="database-duties")
        starting: asyncio.Task[None] | None = None
        if specs:
            running = app.state.consumers = ServiceConsumers(settings, specs, app.state.pool)
            starting = asyncio.create_task(
                running.run(lambda: duties.migrated, stop), name="consumers-start"
            )
        try:
            yield
        finally:
            stop.set()
            if running is not None and starting is not None:
                await asyncio.wait_for(starting, 30)
                # Before the pool closes: no handler may be left holding a connection.
                await running.stop()
                running = None
            await asyncio.wait_for(background, 30)
            await link.stop()
            await app.state.pool.close()

    async def database() -> bool:
        return await database_answers(app.state.pool, settings.readiness_timeout_s)

    async def schema() -> bool:
        return duties.migrated

    async def kafka() -> bool:
        if not await link.answers(settings.readiness_timeout_s):
            return False
        # Consumers start only after the migrations; until then `schema` tells.
        if running is None or not duties.migrated:
            return True
        return await running.answers(settings.readiness_timeout_s)

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.token_verifier = TokenVerifier(
        JwksSource(settings.auth_jwks),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )
    install_problem_handlers(app)
    install_request_limits(app, settings.max_request_bytes, media_types)
    declare_problem_responses(app)
    app.include_router(health_router({"database": database, "schema": schema, "kafka": kafka}))
    app.mount("/metrics", make_asgi_app())
    app.add_middleware(HttpMetrics)
    if settings.trace_exporter is TraceExporter.NONE:
        app.add_middleware(TraceContextPassThrough)
    else:
        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    return app


# Work a service does beside answering requests: runs until `stop` is set, on the app's state.
BackgroundWork = Callable[[FastAPI, asyncio.Event], Coroutine[Any, Any, None]]


def run_in_background(app: FastAPI, name: str, work: BackgroundWork) -> None:
    """Run `work(app, stop)` for as long as the service runs: started once what
    `create_service_app` starts is up (pool, migrations, consumers), stopped (`stop` set, the
    task awaited) before that is shut down."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            stop = asyncio.Event()
            running = asyncio.create_task(work(app, stop), name=name)
            try:
                yield
            finally:
                stop.set()
                await running

    app.router.lifespan_context = lifespan


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run a service as this process: logs, traces, then the HTTP server."""
    configure_logging(settings.log_level)
    if settings.trace_exporter is not TraceExporter.NONE:
        # Recording spans nobody exports cost about a third of a request's CPU (measured by
        # bench/filing.py); without a provider, spans are no-ops and trace context still
        # passes through from the caller to Kafka.
        configure_tracing(
            f"overgang-{settings.service_name}", settings.trace_exporter, settings.otlp_endpoint
        )
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)
