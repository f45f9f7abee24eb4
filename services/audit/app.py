"""Wiring of the audit service."""

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import ClassVar

from fastapi import FastAPI
from pydantic import Field

from schemas.topics import AUDIT
from services.audit.api import (
    access,
    consents,
    deadlines,
    events,
    exports,
    statistics,
    timelines,
    verify,
)
from services.audit.api.problems import install_audit_problems
from services.audit.consumers import AuditTopics, audit_consumers, dead_letter_consumers
from services.audit.consumers.dead_letters import DeadLetterLogging
from services.audit.usecases.checkpoints import (
    CheckpointPublishing,
    run_checkpoints,
    run_verifications,
)
from services.audit.usecases.deadlines import DeadlineScanning, run_deadline_scans
from services.plumbing.migrations import migrations_folder
from services.plumbing.service import create_service_app, run_in_background
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
    verify_interval_s: float = Field(
        3600.0,
        gt=0,
        description="how often the service verifies its whole chain against the latest "
        "checkpoint (a million rows take about five seconds); the first soon after the start",
    )
    deadline_scan_interval_s: float = Field(
        60.0, gt=0, description="how often deadlines are checked for approaching and missed"
    )
    deadline_approaching_working_days: int = Field(
        1,
        ge=1,
        le=20,
        description="a deadline is approaching from the end of this many working days before "
        "its due day (1: during its last working day)",
    )
    deadline_missed_grace_s: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="an open deadline is raised as missed this long after it fell due (a step "
        "taken just in time may still be on its way through Kafka)",
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(
    settings: AuditSettings,
    *,
    topics: AuditTopics | None = None,
    clock: Callable[[], dt.datetime] = _now,
) -> FastAPI:
    """The audit service. Its consumers read the declared topics unless `topics` says
    otherwise (tests); its deadline scanner tells the time by `clock`."""
    app = create_service_app(
        settings,
        title="Overgang audit service",
        description="The tamper-evident log of every handoff: consents, timelines, deadlines.",
        migrations=migrations_folder("services.audit"),
        consumers=audit_consumers(topics),
    )
    _log_dead_letters(app, settings, topics)
    _publish_checkpoints(app, settings)
    _scan_deadlines(app, settings, topics or AuditTopics(), clock)
    install_audit_problems(app)
    routers = (verify, timelines, access, consents, events, exports, deadlines, statistics)
    for module in routers:
        app.include_router(module.router)
    return app


def _publish_checkpoints(app: FastAPI, settings: AuditSettings) -> None:
    """Publish the chain head now and then, and verify the chain against it, on the
    service's pool."""
    publishing = app.state.checkpoints = CheckpointPublishing(
        settings.kafka_bootstrap, settings.checkpoint_topic, settings.checkpoint_interval_s
    )

    async def publish(app: FastAPI, stop: asyncio.Event) -> None:
        await run_checkpoints(app.state.pool, stop, publishing, clock=_now)

    async def verify(app: FastAPI, stop: asyncio.Event) -> None:
        await run_verifications(
            app.state.pool, stop, publishing, interval_s=settings.verify_interval_s
        )

    run_in_background(app, "checkpoints", publish)
    run_in_background(app, "verifications", verify)


def _scan_deadlines(
    app: FastAPI, settings: AuditSettings, topics: AuditTopics, clock: Callable[[], dt.datetime]
) -> None:
    """Raise approaching and missed deadlines now and then, on the service's pool (every
    instance scans; the rows' locks keep them from raising anything twice)."""
    scanning = app.state.deadline_scanning = DeadlineScanning(
        topics.deadlines,
        settings.deadline_scan_interval_s,
        settings.deadline_approaching_working_days,
        settings.deadline_missed_grace_s,
    )

    async def scan(app: FastAPI, stop: asyncio.Event) -> None:
        await run_deadline_scans(app.state.pool, stop, scanning, clock=clock)

    run_in_background(app, "deadline-scans", scan)


def _log_dead_letters(app: FastAPI, settings: AuditSettings, topics: AuditTopics | None) -> None:
    """Run the dead-letter consumers on the service's pool. They are not plumbing
    ConsumerSpecs (see services/audit/consumers/dead_letters.py), so they run beside them."""

    async def log(app: FastAPI, stop: asyncio.Event) -> None:
        logging_ = DeadLetterLogging(
            settings.kafka_bootstrap, dead_letter_consumers(app.state.pool, topics)
        )
        app.state.dead_letter_logging = logging_
        try:
            await logging_.run(app.state.pool, stop, settings.kafka_retry_s)
            await stop.wait()
        finally:
            await logging_.stop()

    run_in_background(app, "dead-letter-logging", log)
