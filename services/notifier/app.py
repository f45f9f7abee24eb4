"""Wiring of the notifier service."""

from typing import ClassVar

from fastapi import FastAPI
from pydantic import Field

from services.plumbing.service import create_service_app
from services.plumbing.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    service_name: ClassVar[str] = "notifier"

    port: int = Field(8001, description="port the HTTP API answers on")


def create_app(settings: NotifierSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="Overgang notifier service",
        description="Signed webhooks, e-mail and an in-app inbox per organisation.",
    )
