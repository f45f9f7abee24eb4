"""Errors of the use cases (not rules of the domain)."""


class NotFound(Exception):
    """Not there, or not the caller's organisation's (the same answer, on purpose)."""
