"""Builds a service's HTTP app: settings, database pool, Kafka, health and error handling."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import make_asgi_app

from services.plumbing.auth import JwksSource, TokenVerifier
from services.plumbing.database import create_pool, database_answers
from services.plumbing.health import health_router
from services.plumbing.kafka import KafkaLink, create_broker
from services.plumbing.problems import install_problem_handlers
from services.plumbing.settings import ServiceSettings
from services.plumbing.telemetry import configure_logging, configure_tracing


def create_service_app(settings: ServiceSettings, *, title: str, description: str) -> FastAPI:
    """The FastAPI app every service starts from; nothing connects until it starts."""
    link = KafkaLink(
        create_broker(settings), settings.kafka_bootstrap, retry_s=settings.kafka_retry_s
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings)
        app.state.kafka = link
        link.start()
        try:
            yield
        finally:
            await link.stop()
            await app.state.pool.close()

    async def database() -> bool:
        return await database_answers(app.state.pool, settings.readiness_timeout_s)

    async def kafka() -> bool:
        return await link.answers(settings.readiness_timeout_s)

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.token_verifier = TokenVerifier(
        JwksSource(settings.auth_jwks),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )
    install_problem_handlers(app)
    app.include_router(health_router({"database": database, "kafka": kafka}))
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
