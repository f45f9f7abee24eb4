"""The audit service's HTTP API, for auditors and administrators."""
