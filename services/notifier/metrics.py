"""The notifier's own Prometheus metrics (the plumbing's are in plumbing/telemetry.py)."""

from prometheus_client import Counter

DELIVERY_ATTEMPTS = Counter(
    "overgang_delivery_attempts",
    "delivery attempts settled, by channel and the delivery's status afterwards (pending: "
    "it failed and waits for a retry)",
    ["channel", "status"],
)
