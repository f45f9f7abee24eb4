"""The referral service as the filing benchmark serves it (`python -m bench.filing_server`): the
service's own app, with its middleware, auth dependency and pool, plus what only the bench has:

- `POST /bench/baseline`: the same body and the same filer dependency as filing, and ONE
  PostgreSQL insert from the same pool; the floor under which filing cannot go;
- `GET /bench/timings`: how long the app took per path, measured inside the server (from the
  outermost middleware to the last byte), then forgotten;
- with OVERGANG_BENCH_NO_TRACING=true: no tracer provider (a what-if, for diagnosis);
- with OVERGANG_BENCH_PROFILE=<file>: cProfile (CPU time) of the server's event loop thread,
  written when it stops.

None of this is in the service itself."""

import cProfile
import time
import uuid
from collections import defaultdict
from typing import Annotated, ClassVar

import uvicorn
from fastapi import Depends, FastAPI, Request, status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.codes import Role
from services.plumbing.auth import Principal, require_role
from services.plumbing.service import serve
from services.plumbing.telemetry import configure_logging
from services.referral.api.deps import Pool
from services.referral.api.referrals import ReferralCreate
from services.referral.app import ReferralSettings, create_app

BASELINE_TABLE = """CREATE TABLE IF NOT EXISTS bench_baseline (
    id uuid PRIMARY KEY,
    subject_id uuid NOT NULL,
    to_organisation_id uuid NOT NULL,
    filed_by uuid NOT NULL,
    filed_at timestamptz NOT NULL
)"""

Filer = Annotated[Principal, Depends(require_role(Role.FILER, Role.COORDINATOR))]


class BenchSettings(ReferralSettings):
    # Its own outbox relay's transactional id, so a referral service of `make up` is not fenced.
    service_name: ClassVar[str] = "referral-bench"

    bench_profile: str | None = None
    # A what-if for diagnosis, never the figures: no tracer provider installed, so spans
    # are not recorded (as if the service skipped tracing when no exporter is set).
    bench_no_tracing: bool = False


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class ServerTimer:
    """Pure ASGI middleware: the time from a request reaching the app to its last byte out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seconds: dict[str, list[float]] = defaultdict(list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/bench/timings"):
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.seconds[f"{scope['method']} {scope['path']}"].append(
                    time.perf_counter() - began
                )

        await self.app(scope, receive, timed_send)

    def report(self) -> dict[str, dict[str, float]]:
        figures = {}
        for path, seconds in self.seconds.items():
            if "/v1/referrals/" in path:  # one entry for every referral's own path
                continue
            ordered = sorted(seconds)
            figures[path] = {
                "requests": len(ordered),
                **{f"p{p}_ms": round(percentile(ordered, p / 100) * 1000, 2) for p in (50, 95, 99)},
                "max_ms": round(ordered[-1] * 1000, 2),
            }
        self.seconds.clear()
        return figures


def create_bench_app(settings: ReferralSettings) -> FastAPI:
    app = create_app(settings)
    timer = ServerTimer(app)

    @app.post("/bench/baseline", status_code=status.HTTP_201_CREATED)
    async def baseline(body: ReferralCreate, principal: Filer, pool: Pool) -> JSONResponse:
        row_id = uuid.uuid4()
        async with pool.acquire() as connection:
            await connection.execute(
                "INSERT INTO bench_baseline (id, subject_id, to_organisation_id, filed_by, "
                "filed_at) VALUES ($1, $2, $3, $4, now())",
                row_id,
                body.subject_id,
                body.to_organisation_id,
                principal.actor_id,
            )
        return JSONResponse({"id": str(row_id)}, status_code=status.HTTP_201_CREATED)

    @app.get("/bench/timings")
    async def timings(request: Request) -> dict[str, dict[str, float]]:
        return timer.report()

    # Outermost: the timer wraps every middleware the service has.
    original = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        timer.app = original()
        return timer

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]
    return app


def _serve(app: FastAPI, settings: BenchSettings) -> None:
    if not settings.bench_no_tracing:
        serve(app, settings)
        return
    configure_logging(settings.log_level)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)


def main() -> None:
    settings = BenchSettings()
    app = create_bench_app(settings)
    if settings.bench_profile is None:
        _serve(app, settings)
        return
    # CPU time of the event loop's thread: neither waiting nor other processes count.
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    try:
        _serve(app, settings)
    finally:
        profiler.disable()
        profiler.dump_stats(settings.bench_profile)


if __name__ == "__main__":
    main()
