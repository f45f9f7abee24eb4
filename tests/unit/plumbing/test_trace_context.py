"""Without tracing, a caller's W3C trace context still becomes the request's context, so the
events a request causes carry it on to Kafka."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import context, trace

from services.plumbing.telemetry import TraceContextPassThrough

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def _get(headers: dict[str, str] | None = None) -> dict[str, str]:
    """The trace the request ran in, asked from an empty context (the test client hands the
    caller's context to the app, and other tests may leave theirs)."""
    token = context.attach(context.Context())
    try:
        answer: dict[str, str] = _client().get("/trace", headers=headers).json()
        return answer
    finally:
        context.detach(token)


def _client() -> TestClient:
    app = FastAPI()
    app.add_middleware(TraceContextPassThrough)

    @app.get("/trace")
    async def current_trace() -> dict[str, str]:
        span_context = trace.get_current_span().get_span_context()
        return {"trace_id": format(span_context.trace_id, "032x")}

    return TestClient(app)


def test_an_incoming_traceparent_is_the_current_context() -> None:
    assert _get({"traceparent": TRACEPARENT}) == {"trace_id": TRACE_ID}


# FastAPI records a server span of its own when a tracer provider is installed (another test
# of this process may have installed one): without a traceparent a request is then the root of
# a new trace, and otherwise in none. Either way, not in the caller's trace of another request.


def test_without_a_traceparent_the_request_is_in_no_callers_trace() -> None:
    assert _get({"traceparent": TRACEPARENT}) == {"trace_id": TRACE_ID}
    assert _get()["trace_id"] != TRACE_ID


def test_a_malformed_traceparent_is_ignored() -> None:
    assert _get({"traceparent": f"00-{TRACE_ID}-01"})["trace_id"] != TRACE_ID
