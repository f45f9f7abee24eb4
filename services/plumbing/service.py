"""Builds a service's HTTP app: settings, database pool, Kafka, health and error handling."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources.abc import Traversable

import asyncpg
import uvicorn
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import make_asgi_app

from services.plumbing.auth import JwksSource, TokenVerifier
from services.plumbing.database import create_pool, database_answers
from services.plumbing.health import health_router
from services.plumbing.kafka import KafkaLink, create_broker
from services.plumbing.migrations import MigrationError, migrate
from services.plumbing.outbox import OutboxRelay, RelaySettings, sleep_unless
from services.plumbing.problems import install_problem_handlers
from services.plumbing.settings import ServiceSettings
from services.plumbing.tables import create_plumbing_tables
from services.plumbing.telemetry import configure_logging, configure_tracing

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


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    migrations: Traversable | None = None,
) -> FastAPI:
    """The FastAPI app every service starts from; nothing connects until it starts."""
    link = KafkaLink(
        create_broker(settings), settings.kafka_bootstrap, retry_s=settings.kafka_retry_s
    )
    duties = DatabaseDuties(settings, migrations)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings)
        app.state.kafka = link
        link.start()
        stop = asyncio.Event()
        background = asyncio.create_task(duties.run(stop), name="database-duties")
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(background, 30)
            await link.stop()
            await app.state.pool.close()

    async def database() -> bool:
        return await database_answers(app.state.pool, settings.readiness_timeout_s)

    async def schema() -> bool:
        return duties.migrated

    async def kafka() -> bool:
        return await link.answers(settings.readiness_timeout_s)

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.token_verifier = TokenVerifier(
        JwksSource(settings.auth_jwks),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )
    install_problem_handlers(app)
    app.include_router(health_router({"database": database, "schema": schema, "kafka": kafka}))
    app.mount("/metrics", make_asgi_app())
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run a service as this process: logs, traces, then the HTTP server."""
    configure_logging(settings.log_level)
    configure_tracing(
        f"overgang-{settings.service_name}", settings.trace_exporter, settings.otlp_endpoint
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)
