"""One webhook attempt: the target checked again (after DNS resolution, and the connection
pinned to the address checked, so a host cannot swap in an internal address in between), the
CloudEvent POSTed in structured JSON mode with Standard Webhooks headers, within timeouts,
reading at most a bounded part of the answer. Redirects are not followed."""

import asyncio
import datetime as dt
import email.utils
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from standardwebhooks.webhooks import Webhook

from schemas.notifications import DeliveryFailure
from services.notifier.domain.deliveries import AttemptResult, is_retryable_status
from services.notifier.domain.errors import UnsafeTarget
from services.notifier.domain.targets import IPAddress, WebhookUrl, check_addresses, check_url
from services.plumbing.telemetry import trace_headers

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
USER_AGENT = "Overgang-Notifier/0.1 (+https://overgang.no)"

Resolve = Callable[[str, int], Awaitable[list[IPAddress]]]


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (an address literal is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


@dataclass(frozen=True)
class SenderSettings:
    production: bool
    allow_private: bool
    timeout_s: float = 10.0
    connect_timeout_s: float = 5.0
    max_response_bytes: int = 64 * 1024
    max_connections_per_host: int = 10


def retry_after_s(value: str | None, now: dt.datetime) -> float | None:
    """Retry-After in seconds (delay-seconds or an HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


class WebhookSender:
    """Sends webhooks; one HTTP client per target origin, so that a pinned address's pooled
    connections always carry that origin's TLS name."""

    def __init__(
        self,
        settings: SenderSettings,
        *,
        resolve: Resolve = resolve_host,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.settings = settings
        self.resolve = resolve
        self.clock = clock
        self._clients: dict[tuple[str, str, int], httpx.AsyncClient] = {}

    def _client(self, target: WebhookUrl) -> httpx.AsyncClient:
        origin = (target.scheme, target.host, target.port)
        client = self._clients.get(origin)
        if client is None:
            client = self._clients[origin] = httpx.AsyncClient(
                timeout=httpx.Timeout(
                    self.settings.timeout_s, connect=self.settings.connect_timeout_s
                ),
                follow_redirects=False,
                # No proxy or netrc from the environment: the address checked is the one called.
                trust_env=False,
                limits=httpx.Limits(max_connections=self.settings.max_connections_per_host),
            )
        return client

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def send(self, *, url: str, secret: str, webhook_id: str, body: str) -> AttemptResult:
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            target = check_url(url, production=self.settings.production)
            try:
                addresses = await self.resolve(target.host, target.port)
            except OSError as error:
                return AttemptResult(
                    delivered=False,
                    latency_ms=took(),
                    failure=DeliveryFailure.CONNECTION_ERROR,
                    error_class=f"dns:{type(error).__name__}",
                )
            address = check_addresses(target, addresses, allow_private=self.settings.allow_private)[
                0
            ]
        except UnsafeTarget as refused:
            return AttemptResult(
                delivered=False,
                latency_ms=took(),
                failure=DeliveryFailure.CONNECTION_ERROR,
                error_class=f"unsafe_target:{refused.code}",
                retryable=False,
            )
        now = self.clock()
        signature = Webhook(secret).sign(webhook_id, now, body)
        original = httpx.URL(url)
        pinned = original.copy_with(host=str(address))
        headers = {
            "Host": original.netloc.decode("ascii"),
            "Content-Type": CONTENT_TYPE,
            "User-Agent": USER_AGENT,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
            # The receiver may continue the trace (W3C trace context); unsigned, as it
            # says nothing about the event.
            **trace_headers(),
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            # The total bound also stops a receiver that answers a byte at a time.
            async with asyncio.timeout(self.settings.timeout_s):
                async with self._client(target).stream(
                    "POST", pinned, content=body.encode(), headers=headers, extensions=extensions
                ) as response:
                    await self._read_some(response)
        except (TimeoutError, httpx.TimeoutException) as error:
            return AttemptResult(
                delivered=False,
                latency_ms=took(),
                failure=DeliveryFailure.TIMEOUT,
                error_class=type(error).__name__,
            )
        except httpx.TransportError as error:
            tls = isinstance(error.__cause__, ssl.SSLError) or "SSL" in type(error).__name__
            return AttemptResult(
                delivered=False,
                latency_ms=took(),
                failure=DeliveryFailure.TLS_ERROR if tls else DeliveryFailure.CONNECTION_ERROR,
                error_class=type(error).__name__,
            )
        status = response.status_code
        if 200 <= status < 300:
            return AttemptResult(delivered=True, latency_ms=took(), status_code=status)
        return AttemptResult(
            delivered=False,
            latency_ms=took(),
            status_code=status,
            failure=DeliveryFailure.HTTP_STATUS,
            error_class=f"http_{status}",
            retry_after_s=retry_after_s(response.headers.get("retry-after"), self.clock())
            if status in (429, 503)
            else None,
            retryable=is_retryable_status(status),
        )

    async def _read_some(self, response: httpx.Response) -> None:
        """Reads (and drops) at most max_response_bytes of the answer: nothing in it is used,
        and a receiver must not be able to make us hold an unbounded body."""
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read >= self.settings.max_response_bytes:
                break
