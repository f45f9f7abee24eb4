"""The audit service's errors, named for the rule; one base."""


class AuditError(Exception):
    """Something the audit service refuses; the message is safe to show (no personal data)."""


class NotInDirectory(AuditError):
    """The caller's organisation is not in the directory, so its county is unknown."""

    def __init__(self) -> None:
        super().__init__(
            "your organisation is not in the directory: auditors see their own county only"
        )


class NoTimeline(AuditError):
    """Nothing about the person involves an organisation of the caller's county."""

    def __init__(self) -> None:
        super().__init__("no timeline for this subject in your county")


class InvalidRange(AuditError):
    """A stretch of the chain that cannot be verified; `field` names the offending bound."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
