"""Wiring of the referral service."""

from typing import ClassVar

from fastapi import FastAPI
from pydantic import Field

from services.plumbing.service import create_service_app
from services.plumbing.settings import ServiceSettings


class ReferralSettings(ServiceSettings):
    service_name: ClassVar[str] = "referral"

    port: int = Field(8000, description="port the HTTP API answers on")


def create_app(settings: ReferralSettings) -> FastAPI:
    return create_service_app(
        settings,
        title="Overgang referral service",
        description="Organisations, agreements, subjects, consents and the referral lifecycle.",
    )
