"""The audit service's PostgreSQL store: the chained log, the directory and the access log."""
