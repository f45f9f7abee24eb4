"""One trace, end to end, across the three service processes: the HTTP request that files a
referral, the event's write to the outbox and its publishing, the notifier's handling and its
webhook delivery, and the audit's handling and insert; exported over OTLP to a collector
(tests/collector.py), as `OVERGANG_STACK_OTLP_ENDPOINT` makes `make up` do."""

import secrets

import pytest

from schemas.codes import Role
from tests.collector import Collector, ReceivedSpan
from tests.e2e.handoffs import consent, ok, register
from tests.system import System, until

pytestmark = pytest.mark.e2e

SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5  # OTLP span kinds
PERSON_TOPIC = "overgang.person.v1"


def _in_trace(collector: Collector, trace_id: str) -> list[ReceivedSpan]:
    return [s for s in collector.spans() if s.trace_id == trace_id]


def test_one_trace_runs_from_the_filing_through_kafka_to_the_webhook_and_the_audit(
    system: System, collector: Collector
) -> None:
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    with system.client("referral", "follow_up", Role.COORDINATOR, Role.FILER) as follow_up:
        subject = register(follow_up)
        consent_id = consent(follow_up, subject)
        # The caller's own trace context (a case system that traces its calls).
        filed = ok(
            follow_up.post(
                "/v1/referrals",
                json={
                    "subject_id": str(subject),
                    "to_organisation_id": str(system.organisations["nav_bergenhus"]),
                    "purpose": "follow_up_outside_school_and_work",
                    "situation": "outside_school_and_work",
                    "consent_id": str(consent_id),
                },
                headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
            ),
            201,
        )

    def one(spans: list[ReceivedSpan], service: str, kind: int, name: str) -> ReceivedSpan:
        found = [s for s in spans if s.service == service and s.kind == kind and name in s.name]
        assert len(found) == 1, (service, kind, name, [(s.service, s.name) for s in spans])
        return found[0]

    def audit_handling() -> list[ReceivedSpan]:
        """The audit's handling of the event: in the trace, or (when it came in a batch with
        others) a batch span linked to it."""
        return [
            s
            for s in collector.spans()
            if s.service == "overgang-audit"
            and s.kind == CONSUMER
            and s.name == f"{PERSON_TOPIC} process"
            and (s.trace_id == trace_id or trace_id in s.linked_trace_ids)
        ]

    def complete() -> list[ReceivedSpan] | None:
        """Every process's spans of the trace, once each has exported them (in batches, a
        few seconds apart)."""
        spans = _in_trace(collector, trace_id)
        services = {s.service for s in spans if s.kind in (SERVER, CLIENT)}
        delivered = any(s.name == "webhook deliver" for s in spans)
        ready = {"overgang-referral", "overgang-notifier"} <= services and delivered
        return spans if ready and audit_handling() else None

    spans = until(complete, timeout_s=60, what=f"the spans of trace {trace_id}")

    # The referral service: the request, as a child of the caller's span; the event's create
    # span (its write to the outbox) within it.
    request = one(spans, "overgang-referral", SERVER, "/v1/referrals")
    assert request.parent_span_id == caller_span
    create = one(spans, "overgang-referral", PRODUCER, f"{PERSON_TOPIC} create")
    assert create.attributes["messaging.message.id"]
    # The relay's publish span is a batch of its own, linked to the traces it publishes.
    publishing = until(
        lambda: [
            s
            for s in collector.spans()
            if s.service == "overgang-referral" and s.name.endswith("publish")
            if trace_id in s.linked_trace_ids
        ],
        timeout_s=30,
        what="the outbox publish span linked to the trace",
    )
    assert publishing

    # The notifier: the record's handling continues the create span; the webhook's attempt
    # continues that, though it happened later in another task.
    handled = one(spans, "overgang-notifier", CONSUMER, f"{PERSON_TOPIC} process")
    assert handled.parent_span_id == create.span_id
    delivered = one(spans, "overgang-notifier", CLIENT, "webhook deliver")
    assert delivered.parent_span_id == handled.span_id
    assert (
        delivered.attributes["messaging.message.id"] == handled.attributes["messaging.message.id"]
    )

    # The audit: its handling continues the create span (or, in a batch with other events,
    # links to it), and writes the row within it.
    (audited,) = audit_handling()
    assert audited.parent_span_id == create.span_id or trace_id in audited.linked_trace_ids
    writes = until(
        lambda: [
            s
            for s in collector.spans()
            if s.service == "overgang-audit" and s.parent_span_id == audited.span_id
        ],
        timeout_s=30,
        what="the audit's database spans",
    )
    assert any(s.attributes.get("db.system") == "postgresql" for s in writes), writes
    assert filed["referral_id"]
