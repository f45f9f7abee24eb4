"""The contract of dead-letter records: why a consumer gave a record up (`dlq.reason`)."""

from enum import StrEnum


class DeadLetterReason(StrEnum):
    """Why a record went to a dead-letter topic."""

    UNDECODABLE = "undecodable"  # not a CloudEvent in the Kafka binary binding
    UNKNOWN_TYPE = "unknown_type"  # a CloudEvent of a type the consumer does not know
    SCHEMA_VIOLATION = "schema_violation"  # its data does not match its type's schema
    HANDLER_FAILED = "handler_failed"  # the handler kept failing, retries used up
    UNPROCESSABLE = "unprocessable"  # the handler refused it: no retry could help
