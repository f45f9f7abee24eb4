"""Notification events: what became of each delivery of a notification to an organisation."""

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from schemas.envelope import EventData
from schemas.ids import DeliveryId, EventId, EventType, OrganisationId, SubscriptionId
from schemas.topics import NOTIFICATION, Topic


class Channel(StrEnum):
    """How an organisation is notified."""

    WEBHOOK = "webhook"
    EMAIL = "email"
    INBOX = "inbox"


class DeliveryFailure(StrEnum):
    """Why a delivery attempt failed."""

    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    TLS_ERROR = "tls_error"
    HTTP_STATUS = "http_status"  # the receiver answered with a status that is not 2xx
    SMTP_ERROR = "smtp_error"


class _DeliveryEvent(EventData):
    """One attempt to deliver a notification of one event to one organisation."""

    topic: ClassVar[Topic] = NOTIFICATION

    delivery_id: DeliveryId = Field(description="the delivery (all attempts share it)")
    subscription_id: SubscriptionId = Field(description="the subscription it is for")
    organisation_id: OrganisationId = Field(description="the organisation notified")
    channel: Channel = Field(description="how it was notified")
    attempt: int = Field(ge=1, le=1_000, description="which attempt this was, from 1")
    status_code: int | None = Field(
        None, ge=100, le=599, description="the receiver's HTTP status code, for webhooks"
    )
    notified_event_id: EventId = Field(description="the CloudEvents id of the event notified of")
    notified_event_type: EventType = Field(description="the type of the event notified of")
    occurred_at: AwareDatetime = Field(description="when the attempt ended")

    def partition_key(self) -> str:
        return str(self.organisation_id)

    def ce_subject(self) -> str:
        return str(self.delivery_id)


class NotificationDeliveredV1(_DeliveryEvent):
    """A notification reached the organisation."""

    ce_type: ClassVar[str] = "no.overgang.notification.delivered.v1"


class NotificationFailedV1(_DeliveryEvent):
    """A delivery attempt failed; another will follow at `next_attempt_at`."""

    ce_type: ClassVar[str] = "no.overgang.notification.failed.v1"

    failure: DeliveryFailure = Field(description="why the attempt failed")
    next_attempt_at: AwareDatetime = Field(description="when it will be tried again")


class NotificationDeadLetteredV1(_DeliveryEvent):
    """A delivery failed for the last time and waits for an operator to retry it."""

    ce_type: ClassVar[str] = "no.overgang.notification.dead_lettered.v1"

    failure: DeliveryFailure = Field(description="why the last attempt failed")
