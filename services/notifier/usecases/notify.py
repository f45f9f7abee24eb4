"""Turning a consumed domain event into notifications: route it to the organisations it
concerns, put it in each one's in-app inbox (subscriptions or not), and give each of their
live subscriptions that wants its type one pending delivery. Runs in the consumer's inbox
transaction, so a redelivered record adds nothing."""

import datetime as dt
import json

from schemas.envelope import CloudEvent, EventData
from schemas.ids import EventId
from schemas.notifications import Channel
from services.notifier.domain import routing
from services.notifier.domain.deliveries import Delivery, DeliveryStatus, delivery_id_for
from services.notifier.domain.inbox import InboxNotification, notification_id_for
from services.notifier.domain.messages import referral_of
from services.notifier.domain.subscriptions import SubscriptionKind
from services.notifier.store import deliveries, inbox, subscriptions
from services.notifier.store import routing as routing_store
from services.plumbing.database import Connection
from services.plumbing.telemetry import trace_headers

_CHANNELS = {SubscriptionKind.WEBHOOK: Channel.WEBHOOK, SubscriptionKind.EMAIL: Channel.EMAIL}


def structured_body(event: CloudEvent) -> str:
    """The event in the CloudEvents JSON format (structured mode): what a webhook carries."""
    body = event.model_dump(mode="json")
    if body.get("subject") is None:
        body.pop("subject", None)  # an absent attribute is left out, not null
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


async def notify(
    connection: Connection, data: EventData, event: CloudEvent, now: dt.datetime
) -> int:
    """Puts the event in the inboxes of the organisations it concerns and makes its
    deliveries; how many deliveries were made."""
    made = 0
    if routing.is_notified(data):
        known = await routing_store.load(connection, routing.lookups(data))
        organisations = routing.recipients(data, known)
        referral_id = referral_of(data)
        await inbox.add_all(
            connection,
            [
                InboxNotification(
                    notification_id=notification_id_for(event.id, organisation),
                    organisation_id=organisation,
                    event_id=EventId(event.id),
                    event_type=event.type,
                    referral_id=referral_id,
                    occurred_at=event.time,
                    received_at=now,
                )
                for organisation in sorted(organisations)
            ],
        )
        wanting = await subscriptions.wanting(connection, organisations, event.type)
        if wanting:
            await deliveries.save_event(
                connection, event.id, event.type, structured_body(event), now, trace_headers()
            )
            made = await deliveries.add_all(
                connection,
                [
                    Delivery(
                        delivery_id=delivery_id_for(event.id, subscription.subscription_id),
                        event_id=EventId(event.id),
                        event_type=event.type,
                        subscription_id=subscription.subscription_id,
                        organisation_id=subscription.organisation_id,
                        channel=_CHANNELS[subscription.kind],
                        status=DeliveryStatus.PENDING,
                        attempts=0,
                        round_attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                    for subscription in wanting
                ],
            )
            if made:
                await deliveries.announce(connection)
    await routing_store.save(connection, routing.remember(data), now)
    return made
