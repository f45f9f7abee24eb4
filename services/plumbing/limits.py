"""Bounds on what a request may carry: a body no larger than a limit (413), and a JSON body
on the methods that send one (415), or, on a path that takes other media types (an event
ingress), one of those. Both are refused before a route sees the request."""

from collections.abc import Mapping, Sequence

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.plumbing.problems import PROBLEMS, problem

_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class _BodyTooLarge(Exception):
    """Raised into the app when a streamed body grows past the limit, so it stops reading."""


def is_json(content_type: str | None) -> bool:
    """`application/json` or `application/<something>+json`, whatever the parameters."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _too_large(max_bytes: int) -> ASGIApp:
    return problem(
        413,
        "Content Too Large",
        f"the request body is larger than {max_bytes} bytes",
        type_=PROBLEMS + "request-too-large",
        max_bytes=max_bytes,
    )


def _unsupported(accepted: Sequence[str] | None) -> ASGIApp:
    if accepted is None:
        return problem(
            415,
            "Unsupported Media Type",
            "the request body must be application/json",
            type_=PROBLEMS + "unsupported-media-type",
            headers={"Accept": "application/json"},
        )
    return problem(
        415,
        "Unsupported Media Type",
        f"the request body must be one of: {', '.join(accepted)}",
        type_=PROBLEMS + "unsupported-media-type",
        # RFC 9110, 15.5.16: Accept says which media types would have been taken.
        headers={"Accept": ", ".join(accepted)},
        accepted_media_types=list(accepted),
    )


def _accepted(content_type: str | None, accepted: Sequence[str]) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type in accepted


class RequestLimits:
    """Pure ASGI middleware (it never buffers the body): refuses a body larger than
    `max_bytes`, whether Content-Length says so or a streamed body grows past it, and a body
    that is not JSON on POST, PUT and PATCH (on a path of `media_types`: not one of its
    media types). A POST without a body passes."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        media_types: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.media_types = dict(media_types or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        declared: int | None = None
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = None
        if declared is not None and declared > self.max_bytes:
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        # An unreadable Content-Length or any Transfer-Encoding means a body may follow.
        has_body = (length is not None and declared != 0) or "transfer-encoding" in headers
        content_type = headers.get("content-type")
        accepted = self.media_types.get(scope["path"])
        fits = is_json(content_type) if accepted is None else _accepted(content_type, accepted)
        if scope["method"] in _METHODS_WITH_BODY and has_body and not fits:
            await _unsupported(accepted)(scope, receive, send)
            return
        await self._counting(scope, receive, send)

    async def _counting(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, counting its body as it arrives; past the limit, stop the app
        reading and answer 413 in place of whatever the app makes of the broken body."""
        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to a body cut short; ours follows
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _BodyTooLarge:
            if started:
                raise
        except Exception:
            # The app may turn the cut into an error of its own; the cause is the size.
            if not exceeded or started:
                raise
        if exceeded and not started:
            await _too_large(self.max_bytes)(scope, receive, send)


def install_request_limits(
    app: FastAPI, max_bytes: int, media_types: Mapping[str, Sequence[str]] | None = None
) -> None:
    """Refuse oversized and non-JSON request bodies before any route reads them;
    `media_types` names the paths that take other media types, and which."""
    app.add_middleware(RequestLimits, max_bytes=max_bytes, media_types=media_types)
