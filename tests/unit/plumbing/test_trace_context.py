"""Without tracing, a caller's W3C trace context still becomes the request's context, so the
events a request causes carry it on to Kafka."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace

from services.plumbing.telemetry import TraceContextPassThrough

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def _client() -> TestClient:
    app = FastAPI()
    app.add_middleware(TraceContextPassThrough)

    @app.get("/trace")
    async def current_trace() -> dict[str, str]:
        span_context = trace.get_current_span().get_span_context()
        return {"trace_id": format(span_context.trace_id, "032x")}

    return TestClient(app)


def test_an_incoming_traceparent_is_the_current_context() -> None:
    response = _client().get("/trace", headers={"traceparent": TRACEPARENT})

    assert response.json() == {"trace_id": TRACE_ID}


def test_without_a_traceparent_there_is_no_trace() -> None:
    assert _client().get("/trace").json() == {"trace_id": "0" * 32}


def test_a_malformed_traceparent_is_ignored() -> None:
    response = _client().get("/trace", headers={"traceparent": "00-not-a-trace-01"})

    assert response.json() == {"trace_id": "0" * 32}
