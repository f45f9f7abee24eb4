"""Outbound safety: which webhook URLs may be called, and which addresses their hosts may
resolve to. Checked when a subscription is made and again before every attempt, after DNS
resolution (a host that later resolves to an internal address is refused then)."""

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.notifier.domain.errors import UnsafeTarget

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class WebhookUrl:
    """A webhook URL of an acceptable form: its scheme, host and port, and the URL itself."""

    url: str
    scheme: str
    host: str
    port: int


def check_url(url: str, *, production: bool) -> WebhookUrl:
    """The URL, if its form is acceptable (https in production; no credentials, no fragment);
    UnsafeTarget otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"the URL is longer than {MAX_URL_LENGTH} characters", code="too_long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeTarget("the URL cannot be read", code="malformed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeTarget("the URL must be https (or http outside production)", code="scheme")
    if production and scheme != "https":
        raise UnsafeTarget("production calls webhooks over https only", code="scheme")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host", code="malformed")
    # Credentials in a URL would be stored and listed with it; a fragment is never sent.
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("the URL must not carry credentials", code="credentials")
    if parts.fragment:
        raise UnsafeTarget("the URL must not have a fragment", code="malformed")
    return WebhookUrl(
        url=url,
        scheme=scheme,
        host=parts.hostname,
        port=port if port is not None else (443 if scheme == "https" else 80),
    )


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why a webhook may not be sent to this address, or None when it may.

    Link-local (where cloud metadata services answer), multicast, unspecified and reserved
    addresses are refused always; private and loopback ones unless `allow_private` (a
    setting, for local tests and receivers on an internal network)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped, allow_private=allow_private)
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link_local"
    if address.is_multicast:
        return "multicast"
    if address.is_loopback:
        return None if allow_private else "loopback"
    if address.is_private or not address.is_global:
        # Covers RFC 1918, unique local, shared (100.64/10), documentation and reserved ranges.
        if address.is_reserved:
            return "reserved"
        return None if allow_private else "private"
    if address.is_reserved:
        return "reserved"
    return None


def check_addresses(
    target: WebhookUrl, addresses: list[IPAddress], *, allow_private: bool
) -> list[IPAddress]:
    """The addresses, if every one may be called; UnsafeTarget naming the first that may not
    (a host with one internal address among public ones is refused: which one a client
    picks is not ours to choose)."""
    if not addresses:
        raise UnsafeTarget("the host does not resolve", code="unresolvable")
    for address in addresses:
        why = refusal(address, allow_private=allow_private)
        if why is not None:
            raise UnsafeTarget(
                f"the host resolves to a {why.replace('_', '-')} address, which is not allowed",
                code=why,
            )
    return addresses
