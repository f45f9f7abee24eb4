"""The audit service's verbs: ingest, verify, read timelines and the access log."""
