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


class InvalidAddress(NotifierDomainError):
    """An e-mail subscription's address is not a plain mailbox address we can send to."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class EmailNotConfigured(NotifierDomainError):
    """E-mail subscriptions need an SMTP server, and this service has none set."""

    def __init__(self) -> None:
        super().__init__("this service has no SMTP server set, so it cannot send e-mail")
