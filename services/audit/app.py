"""Wiring of the audit service."""

from typing import ClassVar

from fastapi import FastAPI
from pydantic import Field

from services.plumbing.service import create_service_app
from services.plumbing.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    service_name: ClassVar[str] = "audit"

    port: int = Field(8002, description="port the HTTP API answers on")


def create_app(settings: AuditSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="Overgang audit service",
        description="The tamper-evident log of every handoff: consents, timelines, deadlines.",
    )
