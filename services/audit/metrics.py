"""The audit service's own Prometheus metrics (the plumbing's are in plumbing/telemetry.py)."""

from prometheus_client import Counter, Gauge

# Counted as the audit logs its own deadline.missed events (once per event, by the inbox; a
# batch that is rolled back and handled again may count twice: a dashboard figure, not the
# record, which is the log).
DEADLINES_MISSED = Counter(
    "overgang_deadlines_missed",
    "deadlines missed, by the organisation that had to meet them",
    ["organisation_id"],
)

# Set by the audit service's own verification of the whole chain, now and then. A gauge
# without labels is exposed from the start, at 0: hence "broken", which 0 does not claim.
CHAIN_BROKEN = Gauge(
    "overgang_audit_chain_broken",
    "1 when the last verification found the chain broken or disagreeing with the latest "
    "checkpoint; 0 when it held, or before the first verification",
)
CHAIN_VERIFIED_AT = Gauge(
    "overgang_audit_chain_verified_timestamp_seconds",
    "when the chain was last verified (Unix time; 0 before the first), whatever the outcome",
)
CHAIN_VERIFIED_ROWS = Gauge(
    "overgang_audit_chain_verified_rows",
    "rows the last verification walked until the end or the first bad one",
)
