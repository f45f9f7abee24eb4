"""Subscriptions: an organisation's wish to be told of some event types, through a channel.

A webhook subscription's signing secret is made by the service (Standard Webhooks: `whsec_`
and the base64 of random bytes), shown once in the answer to its creation, kept only
encrypted, and never returned again."""

import base64
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from schemas.ids import OrganisationId, SubscriptionId
from services.notifier.domain.errors import UnknownEventTypes
from services.notifier.domain.routing import NOTIFIED_TYPES

SECRET_PREFIX = "whsec_"  # noqa: S105 -- the prefix the specification names, not a secret
# Standard Webhooks asks for 24 to 64 random bytes.
SECRET_BYTES = 32


class SubscriptionKind(StrEnum):
    """The channel a subscription is notified through."""

    WEBHOOK = "webhook"
    EMAIL = "email"


@dataclass(frozen=True)
class Subscription:
    """One organisation's subscription; the secret is not part of it (see the store)."""

    subscription_id: SubscriptionId
    organisation_id: OrganisationId
    kind: SubscriptionKind
    url: str | None
    address: str | None
    event_types: frozenset[str]
    paused: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    def wants(self, event_type: str) -> bool:
        return not self.paused and event_type in self.event_types


def signing_secret(random_bytes: bytes) -> str:
    """A Standard Webhooks signing secret made of `random_bytes` (from a CSPRNG)."""
    if len(random_bytes) < 24:
        raise ValueError("a signing secret needs at least 24 random bytes")
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode()


def event_types_wanted(types: Iterable[str]) -> frozenset[str]:
    """The types, if each is notified; UnknownEventTypes naming those that are not."""
    wanted = frozenset(types)
    unknown = sorted(wanted - NOTIFIED_TYPES)
    if unknown:
        raise UnknownEventTypes(unknown)
    return wanted
