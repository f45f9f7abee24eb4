"""Errors of the notifier's rules, each named for the rule it enforces."""


class NotifierDomainError(Exception):
    """A rule of the notifier was broken; the message names it (never any personal data)."""


class UnsafeTarget(NotifierDomainError):
    """A webhook URL the notifier refuses to call: its scheme, form or the addresses its host
    resolves to."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class UnknownEventTypes(NotifierDomainError):
    """A subscription asked for event types that are not notified."""

    def __init__(self, types: list[str]) -> None:
        super().__init__(f"these event types are not notified: {', '.join(sorted(types))}")
        self.types = types


class NotDeadLettered(NotifierDomainError):
    """Only a dead-lettered delivery can be retried by hand."""

    def __init__(self, status: str) -> None:
        super().__init__(f"only a dead-lettered delivery can be retried; this one is {status}")
        self.status = status
