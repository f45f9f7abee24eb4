"""Errors of the event contract, under one base. Their messages name types and fields, never
the values in an event (an inbound event may carry an identity number)."""

from pydantic import ValidationError


class ContractError(Exception):
    """Something does not follow the event contract."""


class UnknownEventType(ContractError, LookupError):
    """An event's type is not one of the contract's."""

    def __init__(self, ce_type: str) -> None:
        super().__init__(f"unknown event type {ce_type!r}: no schema is registered for it")
        self.ce_type = ce_type


class SchemaViolation(ContractError):
    """An event's data does not match the schema of its type."""

    def __init__(self, ce_type: str, error: ValidationError) -> None:
        self.ce_type = ce_type
        self.problems = tuple(
            f"{'.'.join(str(part) for part in problem['loc']) or '(data)'}: {problem['msg']}"
            for problem in error.errors(
                include_url=False, include_context=False, include_input=False
            )
        )
        super().__init__(f"{ce_type} data violates its schema: " + "; ".join(self.problems))


class DuplicateEventType(ContractError):
    """Two models claim the same event type."""
