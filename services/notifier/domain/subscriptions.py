"""Subscriptions: an organisation's wish to be told of some event types, through a channel.

A webhook subscription's signing secret is made by the service (Standard Webhooks: `whsec_`
and the base64 of random bytes), shown once in the answer to its creation, kept only
encrypted, and never returned again."""

import base64
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from schemas.ids import OrganisationId, SubscriptionId
from services.notifier.domain.errors import InvalidAddress, UnknownEventTypes
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


MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit on a path, less its angle brackets
# A conservative dot-atom local part and a domain of DNS labels with a top-level name: what a
# functional mailbox (post@kommune.no) looks like; quoted local parts and address literals
# are refused rather than sent to.
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def mailbox_address(address: str) -> str:
    """The address, lower-cased in its domain, if it is a plain mailbox address; InvalidAddress
    naming what is wrong otherwise (never echoing the address: it may name a person)."""
    if len(address) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress(
            f"the address is longer than {MAX_ADDRESS_LENGTH} characters", code="too_long"
        )
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddress("the address must be a mailbox@domain", code="malformed")
    if len(local) > 64 or not _LOCAL.match(local):
        raise InvalidAddress("the part before @ is not a plain mailbox name", code="local_part")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidAddress("the domain is not a domain name", code="domain")
    if labels[-1].isdigit():
        raise InvalidAddress("the domain is not a domain name", code="domain")
    return f"{local}@{domain.lower()}"
