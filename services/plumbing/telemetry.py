"""Traces, metrics and logs.

- Traces: OpenTelemetry, exported as settings say (OTLP over HTTP, the console, or not at all);
  spans for HTTP (FastAPI), the database (asyncpg) and Kafka (outbox publish and consume,
  joined by W3C trace context in the record headers).
- Metrics: Prometheus, served at /metrics by every service.
- Logs: one JSON object per line, with the trace and span ids; never personal data (log ids
  and codes, never names, identity numbers or free text)."""

import logging
import sys
import time
from enum import StrEnum

from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from prometheus_client import Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class TraceExporter(StrEnum):
    OTLP = "otlp"
    CONSOLE = "console"
    NONE = "none"


class TraceContextPassThrough:
    """Pure ASGI middleware for a service that records no spans: the caller's W3C trace
    context (traceparent, tracestate) becomes the request's current context, so the events
    the request causes carry it on to Kafka. It does what the FastAPI instrumentation does
    for context, without its per-request cost (it matches every route again to name a span
    that nobody would record)."""

    _HEADERS = (b"traceparent", b"tracestate")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name in self._HEADERS
        }
        if scope["type"] != "http" or not carrier:
            await self.app(scope, receive, send)
            return
        token = context.attach(propagate.extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)


def trace_headers() -> dict[str, str]:
    """The current trace context as W3C headers (traceparent, tracestate), to store with
    work done later, so that it continues this trace; empty when no span is current."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def configure_tracing(
    service_name: str, exporter: TraceExporter, otlp_endpoint: str | None = None
) -> TracerProvider:
    """Install the process's tracer provider; call once, at process start."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter is TraceExporter.OTLP:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    elif exporter is TraceExporter.CONSOLE:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    return provider


class TraceContextJsonFormatter(JsonFormatter):
    """JSON log lines that carry the current trace and span ids."""

    def add_fields(
        self,
        log_data: dict[str, object],
        record: logging.LogRecord,
        message_dict: dict[str, object],
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            log_data["trace_id"] = format(context.trace_id, "032x")
            log_data["span_id"] = format(context.span_id, "016x")


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        TraceContextJsonFormatter(
            "{asctime}{levelname}{name}{message}", style="{", rename_fields={"levelname": "level"}
        )
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)


# Prometheus metrics of the plumbing; the names are what dashboards and alerts use.
OUTBOX_UNSENT = Gauge("overgang_outbox_unsent_events", "events in the outbox not yet on Kafka")
OUTBOX_OLDEST_UNSENT_AGE = Gauge(
    "overgang_outbox_oldest_unsent_age_seconds", "how long the oldest unsent event has waited"
)
OUTBOX_PUBLISHED = Counter("overgang_outbox_published_events", "events the relay put on Kafka")
CONSUMED = Counter(
    "overgang_consumed_events", "events consumed, by outcome", ["topic", "group", "outcome"]
)
DEAD_LETTERS = Counter(
    "overgang_dead_letters", "records sent to a dead-letter topic", ["topic", "reason"]
)
CONSUMER_LAG = Gauge(
    "overgang_consumer_lag_records",
    "records on a partition not yet consumed by the group",
    ["topic", "group", "partition"],
)
HTTP_DURATION = Histogram(
    "overgang_http_request_duration_seconds",
    "HTTP requests by route template (never the path itself: it may hold ids), method and "
    "status class, from the first byte received to the response started",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Routes whose requests are not timed: the probes and the scrape itself.
_UNTIMED = ("/healthz", "/readyz", "/metrics")


class HttpMetrics:
    """Pure ASGI middleware: each request's duration into HTTP_DURATION, labelled with the
    route template FastAPI matched (`/v1/referrals/{referral_id}`), so that the label's values
    stay few and carry no ids."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_UNTIMED):
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()

        started = False

        def observe(status: int) -> None:
            route = scope.get("route")
            HTTP_DURATION.labels(
                getattr(route, "path_format", "unmatched"), scope["method"], f"{status // 100}xx"
            ).observe(time.perf_counter() - began)

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                observe(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if not started:  # the outermost handler answers 500
                observe(500)
            raise
