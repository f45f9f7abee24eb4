"""The demo webhook receiver that `make up` starts beside the services: it listens on a
loopback port, verifies every delivery with the `standardwebhooks` library and the demo
subscription's secret (which the demo load writes to a file, readable by us alone), and
prints one line per delivery to its log (`var/logs/webhook-receiver.log`).

`python -m deploy.local.webhook_receiver --port 8010 --secret-file var/demo-webhook/secret`

It answers 204 to a delivery that verifies, 401 to one that does not, and 503 while there is
no secret yet (the notifier tries again later). As Standard Webhooks asks of a receiver, it
handles each `webhook-id` once: a delivery sent again (the notifier could not know that the
first one arrived) is answered 204 and its line says `again`, so that the log shows every
delivery and, apart, every effect. The events carry no personal data; the line
shows their type and ids only."""

import argparse
import datetime as dt
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

PORT = 8010
MAX_BODY_BYTES = 1024 * 1024
# Deliveries arrive on several threads at once; one line each, never two run together.
_PRINTING = threading.Lock()
# The webhook-ids handled, newest last; the oldest are forgotten past this many.
REMEMBERED = 100_000


class SeenWebhooks:
    """The webhook-ids already handled (thread-safe), so that a resent delivery has no second
    effect."""

    def __init__(self, capacity: int = REMEMBERED) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def first_time(self, webhook_id: str) -> bool:
        with self._lock:
            if webhook_id in self._ids:
                return False
            self._ids[webhook_id] = None
            if len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            return True


def describe(event: dict[str, object]) -> str:
    """What a delivery's line says of its event: type, id and the referral, if any."""
    data = event.get("data")
    referral = data.get("referral_id") if isinstance(data, dict) else None
    parts = [f"type={event.get('type')}", f"event={event.get('id')}"]
    if referral is not None:
        parts.append(f"referral={referral}")
    return " ".join(parts)


class _Handler(BaseHTTPRequestHandler):
    server_version = "OvergangDemoReceiver/1"
    secret_file: Path
    seen: SeenWebhooks

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(413, "refused: the body is too large")
            return
        body = self.rfile.read(length)
        webhook_id = self.headers.get("webhook-id", "-")
        try:
            secret = self.secret_file.read_text().strip()
        except FileNotFoundError:
            self._answer(503, f"not yet: no secret in {self.secret_file} (webhook-id={webhook_id})")
            return
        try:
            event = Webhook(secret).verify(body, dict(self.headers.items()))
        except WebhookVerificationError as error:
            self._answer(401, f"refused: {error} (webhook-id={webhook_id})")
            return
        handled = "verified" if self.seen.first_time(webhook_id) else "verified again"
        self._answer(204, f"{handled} webhook-id={webhook_id} {describe(event)}")

    def _answer(self, status: int, line: str) -> None:
        # The line first: when the sender has its answer, the delivery is in the log (the
        # tests read the log as soon as they are answered).
        at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with _PRINTING:
            print(f"{at} {status} {line}", flush=True)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """One line per delivery is printed by `_answer`; http.server's own lines are not."""


def serve(host: str, port: int, secret_file: Path) -> None:
    handler = type("Handler", (_Handler,), {"secret_file": secret_file, "seen": SeenWebhooks()})
    server = ThreadingHTTPServer((host, port), handler)
    print(
        f"demo webhook receiver on http://{host}:{port}/ verifying with {secret_file}", flush=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--secret-file", type=Path, required=True)
    arguments = parser.parse_args(argv)
    # SIGTERM (from `make down`) ends the process at once; nothing is left half-written.
    serve(arguments.host, arguments.port, arguments.secret_file)


if __name__ == "__main__":
    main(sys.argv[1:])
