"""Subscriptions: made (a webhook's target checked after DNS resolution, its secret made and
sealed; an e-mail's address checked), read, listed, paused, resumed and deleted, always
within the caller's organisation."""

import datetime as dt
import os
import uuid
from dataclasses import dataclass

from schemas.ids import ActorId, OrganisationId, SubscriptionId
from services.notifier.delivery.webhooks import Resolve
from services.notifier.domain.errors import EmailNotConfigured, UnsafeTarget
from services.notifier.domain.subscriptions import (
    SECRET_BYTES,
    Subscription,
    SubscriptionKind,
    event_types_wanted,
    mailbox_address,
    signing_secret,
)
from services.notifier.domain.targets import WebhookUrl, check_addresses, check_url
from services.notifier.sealing import SecretBox
from services.notifier.store import subscriptions
from services.notifier.usecases.errors import NotFound
from services.plumbing.database import Connection


@dataclass(frozen=True)
class TargetRules:
    production: bool
    allow_private: bool
    resolve: Resolve


@dataclass(frozen=True)
class Created:
    subscription: Subscription
    # A webhook's: shown once, in the answer to the creation; stored only sealed.
    secret: str | None


async def check_target(url: str, rules: TargetRules) -> WebhookUrl:
    """The URL, if it may be called: its form, and every address its host resolves to now.
    Done before the transaction: DNS is slow and must not hold a connection."""
    target = check_url(url, production=rules.production)
    try:
        addresses = await rules.resolve(target.host, target.port)
    except OSError:
        raise UnsafeTarget("the host does not resolve", code="unresolvable") from None
    check_addresses(target, addresses, allow_private=rules.allow_private)
    return target


async def create_webhook(
    connection: Connection,
    *,
    organisation_id: OrganisationId,
    actor_id: ActorId,
    target: WebhookUrl,
    event_types: list[str],
    box: SecretBox,
    now: dt.datetime,
) -> Created:
    wanted = event_types_wanted(event_types)
    subscription = Subscription(
        subscription_id=SubscriptionId(uuid.uuid4()),
        organisation_id=organisation_id,
        kind=SubscriptionKind.WEBHOOK,
        url=target.url,
        address=None,
        event_types=wanted,
        paused=False,
        created_at=now,
        updated_at=now,
    )
    secret = signing_secret(os.urandom(SECRET_BYTES))
    await subscriptions.add(
        connection,
        subscription,
        sealed_secret=box.seal(secret, subscription.subscription_id),
        created_by=actor_id,
    )
    return Created(subscription, secret)


async def create_email(
    connection: Connection,
    *,
    organisation_id: OrganisationId,
    actor_id: ActorId,
    address: str,
    event_types: list[str],
    email_enabled: bool,
    now: dt.datetime,
) -> Created:
    """An e-mail subscription to a functional address; EmailNotConfigured when this service
    has no SMTP server to send through."""
    if not email_enabled:
        raise EmailNotConfigured()
    subscription = Subscription(
        subscription_id=SubscriptionId(uuid.uuid4()),
        organisation_id=organisation_id,
        kind=SubscriptionKind.EMAIL,
        url=None,
        address=mailbox_address(address),
        event_types=event_types_wanted(event_types),
        paused=False,
        created_at=now,
        updated_at=now,
    )
    await subscriptions.add(connection, subscription, sealed_secret=None, created_by=actor_id)
    return Created(subscription, None)


async def secret_again(
    connection: Connection, subscription_id: uuid.UUID, box: SecretBox
) -> str | None:
    """The secret, for the replay of its creation's answer; None once deleted."""
    sealed = await subscriptions.sealed_secret(connection, subscription_id)
    return None if sealed is None else box.open(sealed, subscription_id)


async def read(
    connection: Connection, organisation_id: OrganisationId, subscription_id: uuid.UUID
) -> Subscription:
    found = await subscriptions.get(connection, organisation_id, subscription_id)
    if found is None:
        raise NotFound("no such subscription")
    return found


async def page(
    connection: Connection,
    organisation_id: OrganisationId,
    *,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Subscription]:
    return await subscriptions.page(connection, organisation_id, after=after, limit=limit)


async def set_paused(
    connection: Connection,
    organisation_id: OrganisationId,
    subscription_id: uuid.UUID,
    *,
    paused: bool,
    now: dt.datetime,
) -> Subscription:
    changed = await subscriptions.set_paused(
        connection, organisation_id, subscription_id, paused=paused, now=now
    )
    if changed is None:
        raise NotFound("no such subscription")
    return changed


async def delete(
    connection: Connection,
    organisation_id: OrganisationId,
    subscription_id: uuid.UUID,
    now: dt.datetime,
) -> None:
    async with connection.transaction():
        if not await subscriptions.delete(connection, organisation_id, subscription_id, now=now):
            raise NotFound("no such subscription")
