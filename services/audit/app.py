"""Wiring of the audit service."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar

from fastapi import FastAPI
from pydantic import Field

from schemas.topics import AUDIT
from services.audit.api import access, consents, events, exports, timelines, verify
from services.audit.api.problems import install_audit_problems
from services.audit.consumers import AuditTopics, audit_consumers, dead_letter_consumers
from services.audit.consumers.dead_letters import DeadLetterLogging
from services.audit.usecases.checkpoints import CheckpointPublishing, run_checkpoints
from services.plumbing.migrations import migrations_folder
from services.plumbing.service import create_service_app
from services.plumbing.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    service_name: ClassVar[str] = "audit"

    port: int = Field(8002, description="port the HTTP API answers on")
    checkpoint_topic: str = Field(
        AUDIT.name, description="where the chain head is published, and verified against"
    )
    checkpoint_interval_s: float = Field(
        300.0, gt=0, description="how often the chain head is published (when it moved)"
    )


def create_app(settings: AuditSettings, *, topics: AuditTopics | None = None) -> FastAPI:
    """The audit service. Its consumers read the declared topics unless `topics` says
    otherwise (tests)."""
    app = create_service_app(
        settings,
        title="Overgang audit service",
        description="The tamper-evident log of every handoff: consents, timelines, deadlines.",
        migrations=migrations_folder("services.audit"),
        consumers=audit_consumers(topics),
    )
    _log_dead_letters(app, settings, topics)
    _publish_checkpoints(app, settings)
    install_audit_problems(app)
    routers = (verify, timelines, access, consents, events, exports)
    for module in routers:
        app.include_router(module.router)
    return app


def _publish_checkpoints(app: FastAPI, settings: AuditSettings) -> None:
    """Publish the chain head now and then, inside the service's lifespan, on its pool."""
    publishing = app.state.checkpoints = CheckpointPublishing(
        settings.kafka_bootstrap, settings.checkpoint_topic, settings.checkpoint_interval_s
    )
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            stop = asyncio.Event()
            running = asyncio.create_task(
                run_checkpoints(app.state.pool, stop, publishing, clock=_now),
                name="checkpoints",
            )
            try:
                yield
            finally:
                stop.set()
                await running

    app.router.lifespan_context = lifespan


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _log_dead_letters(app: FastAPI, settings: AuditSettings, topics: AuditTopics | None) -> None:
    """Run the dead-letter consumers inside the service's lifespan, on its pool. They are not
    plumbing ConsumerSpecs (see services/audit/consumers/dead_letters.py), so they are started
    here, around the lifespan create_service_app made."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            logging_ = DeadLetterLogging(
                settings.kafka_bootstrap, dead_letter_consumers(app.state.pool, topics)
            )
            app.state.dead_letter_logging = logging_
            stop = asyncio.Event()
            starting = asyncio.create_task(
                logging_.run(app.state.pool, stop, settings.kafka_retry_s),
                name="dead-letter-logging-start",
            )
            try:
                yield
            finally:
                stop.set()
                await asyncio.wait_for(starting, 30)
                await logging_.stop()

    app.router.lifespan_context = lifespan
