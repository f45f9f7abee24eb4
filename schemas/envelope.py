"""The CloudEvents 1.0 envelope and the base class of every event's data.

On Kafka an event travels in the CloudEvents Kafka protocol binding, binary mode: the
attributes are `ce_*` headers, the data is the JSON record value, and the record key is the
event's partition key (see `schemas.topics`)."""

import datetime as dt
import uuid
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.topics import KeyedBy, Topic


class EventData(BaseModel):
    """The data of one event type. Subclasses name their `ce_type` and `topic`, and say which
    field keys the record (a subject_id for everything about a person). Events on a topic keyed
    by the event id (inbound ones) need not: `CloudEvent.of` keys them by the id it is given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ce_type: ClassVar[str]
    topic: ClassVar[Topic]

    def partition_key(self) -> str:
        """The Kafka record key: events with the same key stay in order."""
        raise NotImplementedError

    def ce_subject(self) -> str | None:
        """The CloudEvents `subject`: the id of the thing the event is about, never a person's
        data."""
        return None


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event with JSON data, as it travels between services."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID
    source: str = Field(min_length=1, max_length=200, description="URI-reference of the producer")
    type: str = Field(min_length=1, max_length=200, pattern=r"^[a-z0-9_.]+$")
    subject: str | None = Field(None, max_length=200)
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    # The Kafka record key; not a CloudEvents attribute of its own on the wire.
    partition_key: str = Field(min_length=1, max_length=200, exclude=True)

    @classmethod
    def of(
        cls, data: EventData, *, source: str, event_id: uuid.UUID, time: dt.datetime
    ) -> "CloudEvent":
        """Wrap an event's data; the caller passes the id and the time (no clock in here)."""
        if data.topic.keyed_by is KeyedBy.EVENT:
            partition_key = str(event_id)
        else:
            partition_key = data.partition_key()
        return cls(
            id=event_id,
            source=source,
            type=data.ce_type,
            subject=data.ce_subject(),
            time=time,
            data=data.model_dump(mode="json"),
            partition_key=partition_key,
        )
