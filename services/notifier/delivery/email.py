"""E-mail over SMTP (aiosmtplib): one short message per delivery to the subscription's
functional address, saying in bokmål and English what kind of news there is and where to
look (see domain/messages.py), STARTTLS when configured. The SMTP server's answer decides
what follows: 4xx and lost connections are tried again, 5xx is final (dead-lettered)."""

import datetime as dt
import email.utils
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

import aiosmtplib

from schemas.notifications import Channel, DeliveryFailure
from services.notifier.delivery.channels import unusable
from services.notifier.domain.deliveries import AttemptResult
from services.notifier.domain.messages import email_message, referral_in
from services.notifier.store.deliveries import Claimed


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    from_address: str
    # Where the message tells people to look: the web or API of Overgang.
    base_url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    timeout_s: float = 30.0
    validate_certs: bool = True


def compose(claim: Claimed, settings: SmtpSettings, now: dt.datetime) -> EmailMessage:
    """The message of one delivery: its text from the event's type and referral id only."""
    assert claim.address is not None
    data = json.loads(claim.body).get("data") or {}
    text = email_message(
        claim.delivery.event_type,
        referral_id=referral_in(data) if isinstance(data, dict) else None,
        base_url=settings.base_url,
    )
    message = EmailMessage()
    message["From"] = settings.from_address
    message["To"] = claim.address
    message["Subject"] = text.subject
    message["Date"] = email.utils.format_datetime(now)
    # Stable per delivery, so that a mail system can tell a resent message from a new one.
    domain = settings.from_address.rpartition("@")[2] or "overgang.no"
    message["Message-ID"] = f"<{claim.delivery.delivery_id}@{domain}>"
    # RFC 3834: no out-of-office answers to a machine.
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = "nb, en"
    message.set_content(text.text, charset="utf-8")
    return message


class EmailSender:
    """Sends each delivery as its own SMTP session (deliveries are few and far between)."""

    channel = Channel.EMAIL

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.settings = settings
        self.clock = clock

    async def attempt(self, claim: Claimed) -> AttemptResult:
        if claim.address is None:
            return unusable("not_an_email")
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        message = compose(claim, self.settings, self.clock())
        try:
            if not await self._send(message):
                # Asked for STARTTLS and not offered it: never send in clear instead.
                return _failed(DeliveryFailure.TLS_ERROR, "starttls_not_offered", took())
        except aiosmtplib.SMTPRecipientsRefused as refused:
            codes = [recipient.code for recipient in refused.recipients]
            return _answered(min(codes) if codes else 550, took())
        except aiosmtplib.SMTPResponseException as answered:
            return _answered(answered.code, took())
        except aiosmtplib.SMTPTimeoutError as error:
            return _failed(DeliveryFailure.TIMEOUT, type(error).__name__, took())
        except (ssl.SSLError, aiosmtplib.SMTPNotSupported) as error:
            # No STARTTLS where it was asked for is a TLS failure, not a reason to send in clear.
            return _failed(DeliveryFailure.TLS_ERROR, type(error).__name__, took())
        except (OSError, aiosmtplib.SMTPException) as error:
            return _failed(DeliveryFailure.CONNECTION_ERROR, type(error).__name__, took())
        return AttemptResult(delivered=True, latency_ms=took())

    async def _send(self, message: EmailMessage) -> bool:
        """One SMTP session; False when STARTTLS is wanted and the server does not offer it."""
        client = aiosmtplib.SMTP(
            hostname=self.settings.host,
            port=self.settings.port,
            timeout=self.settings.timeout_s,
            start_tls=False,  # upgraded below, where it is checked that the server offers it
            validate_certs=self.settings.validate_certs,
        )
        async with client:
            if self.settings.starttls:
                await client.ehlo()
                if not client.supports_extension("starttls"):
                    return False
                await client.starttls()
            if self.settings.username is not None:
                await client.login(self.settings.username, self.settings.password or "")
            await client.send_message(message)
        return True

    async def close(self) -> None:
        return None


def _answered(code: int, latency_ms: int) -> AttemptResult:
    """The server refused: 4xx is transient (RFC 5321 4.2.1), 5xx is final."""
    return AttemptResult(
        delivered=False,
        latency_ms=latency_ms,
        failure=DeliveryFailure.SMTP_ERROR,
        error_class=f"smtp_{code}",
        retryable=not 500 <= code < 600,
    )


def _failed(failure: DeliveryFailure, error_class: str, latency_ms: int) -> AttemptResult:
    return AttemptResult(
        delivered=False, latency_ms=latency_ms, failure=failure, error_class=error_class
    )
