"""A real SMTP server on loopback (aiosmtpd, in a thread of its own) that keeps every message
it accepts and answers DATA as scripted: some refusals in turn, then always `then`."""

import email
import email.policy
import socket
import ssl
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Mailbox:
    """The messages the server accepted, and how it answers the next ones."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refused: int = 0
    _script: deque[str] = field(default_factory=deque)
    _then: str = "250 Message accepted for delivery"
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *refusals: str, then: str = "250 Message accepted for delivery") -> None:
        """Answer the next DATA commands with `refusals` in turn, then always `then`."""
        with self._lock:
            self._script = deque(refusals)
            self._then = then

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            answer = self._script.popleft() if self._script else self._then
            if not answer.startswith("250"):
                self.refused += 1
                return answer
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            return answer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _authenticator(username: str, password: str) -> Any:
    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        given = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (username, password)
        # handled=False: aiosmtpd answers (535 on failure); True would leave the client waiting.
        return AuthResult(success=given, handled=False)

    return authenticate


@contextmanager
def smtp_server(
    tls_context: ssl.SSLContext | None = None, *, login: tuple[str, str] | None = None
) -> Iterator[Mailbox]:
    """A running SMTP server on 127.0.0.1; with `tls_context` it offers (and requires)
    STARTTLS; with `login` (username, password) it takes mail only after that login."""
    mailbox = Mailbox(port=_free_port())
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=mailbox.port,
        tls_context=tls_context,
        require_starttls=tls_context is not None,
        authenticator=None if login is None else _authenticator(*login),
        auth_required=login is not None,
    )
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
