"""Errors of the use cases (not rules of the domain)."""


class NotFound(Exception):
    """Not there, or not the caller's organisation's (the same answer, on purpose)."""


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was used before for another request."""

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used for another request")
