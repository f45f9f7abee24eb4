"""Overgang audit service: the tamper-evident log of every handoff, the consent ledger,
timelines, deadlines and handoff statistics."""
