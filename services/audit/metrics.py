"""The audit service's own Prometheus metrics (the plumbing's are in plumbing/telemetry.py)."""

from prometheus_client import Counter

# Counted as the audit logs its own deadline.missed events (once per event, by the inbox; a
# batch that is rolled back and handled again may count twice: a dashboard figure, not the
# record, which is the log).
DEADLINES_MISSED = Counter(
    "overgang_deadlines_missed",
    "deadlines missed, by the organisation that had to meet them",
    ["organisation_id"],
)
