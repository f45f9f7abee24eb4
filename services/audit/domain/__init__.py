"""The audit service's rules: the hash chain, what an entry records, timelines; no I/O."""
