"""`/healthz` (the process is alive) and `/readyz` (its database and Kafka answer)."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.plumbing.problems import problem

ReadinessCheck = Callable[[], Awaitable[bool]]


def health_router(checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Every dependency answers",
        responses={
            503: {
                "description": "a dependency does not answer",
                "content": {"application/problem+json": {}},
            }
        },
    )
    async def readyz() -> JSONResponse:
        results = await asyncio.gather(*(check() for check in checks.values()))
        report = {
            name: "ok" if ok else "unavailable" for name, ok in zip(checks, results, strict=True)
        }
        if all(results):
            return JSONResponse({"status": "ready", "checks": report})
        failing = ", ".join(name for name, state in report.items() if state != "ok")
        return problem(
            503,
            "Service Unavailable",
            f"not ready: {failing} does not answer",
            checks=report,
            headers={"Retry-After": "5"},
        )

    return router
