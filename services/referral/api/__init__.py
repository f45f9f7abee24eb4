"""The referral service's HTTP API: one router per resource; logic stays in the use cases."""
