"""The services' HTTP APIs, called with the signed-in person's own token. What they refuse
comes back as an ApiProblem: the problem+json they sent, for the page to show in words."""

from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class ApiProblem(Exception):
    """A problem+json answer (RFC 9457), or an answer that was none (status 502)."""

    status: int
    type: str = "about:blank"
    title: str = ""
    detail: str | None = None
    # field -> (message, code), for the messages next to the fields concerned
    fields: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        """The last part of the problem's type: `stale-version`, `not-found`, ..."""
        return self.type.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Answer:
    body: Any
    etag: str | None


class Backend:
    """One HTTP client per service, shared by every request."""

    def __init__(self, urls: dict[str, str], *, transport: httpx.AsyncBaseTransport | None = None):
        self.clients = {
            name: httpx.AsyncClient(base_url=url, timeout=10, transport=transport)
            for name, url in urls.items()
        }

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    async def get(
        self, service: str, path: str, token: str, params: dict[str, Any] | None = None
    ) -> Answer:
        return await self._call("GET", service, path, token, params=params)

    async def items(
        self,
        service: str,
        path: str,
        token: str,
        params: dict[str, Any] | None = None,
        *,
        most: int = 1000,
    ) -> list[dict[str, Any]]:
        """The items of a listing, page after page (its `next_cursor`), `most` at the most."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(found) < most:
            asked = (params or {}) | ({"cursor": cursor} if cursor else {})
            page = (await self.get(service, path, token, asked)).body
            found += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return found[:most]

    async def get_text(
        self, service: str, path: str, token: str, params: dict[str, Any] | None = None
    ) -> tuple[str, str]:
        """A text answer (CSV) and its media type."""
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = await self.clients[service].get(path, headers=headers, params=params)
        except httpx.HTTPError as error:
            raise ApiProblem(502, title="unreachable", detail=type(error).__name__) from None
        if not response.is_success:
            raise _problem_of(response)
        return response.text, response.headers.get("content-type", "text/plain")

    async def post(
        self,
        service: str,
        path: str,
        token: str,
        body: dict[str, Any] | None = None,
        *,
        if_match: str | None = None,
        idempotency_key: str | None = None,
    ) -> Answer:
        headers = {}
        if if_match is not None:
            headers["If-Match"] = if_match
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return await self._call("POST", service, path, token, json=body, headers=headers)

    async def _call(
        self, method: str, service: str, path: str, token: str, **options: Any
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token}", **options.pop("headers", {})}
        try:
            response = await self.clients[service].request(method, path, headers=headers, **options)
        except httpx.HTTPError as error:
            raise ApiProblem(502, title="unreachable", detail=type(error).__name__) from None
        if response.is_success:
            return Answer(
                response.json() if response.content else None, response.headers.get("ETag")
            )
        raise _problem_of(response)


def _problem_of(response: httpx.Response) -> ApiProblem:
    try:
        body = response.json()
    except ValueError:
        return ApiProblem(response.status_code, title=response.reason_phrase)
    if not isinstance(body, dict):
        return ApiProblem(response.status_code, title=response.reason_phrase)
    return ApiProblem(
        status=response.status_code,
        type=str(body.get("type", "about:blank")),
        title=str(body.get("title", "")),
        detail=body.get("detail"),
        fields={
            str(error.get("field")): (str(error.get("message")), str(error.get("type")))
            for error in body.get("errors") or []
            if isinstance(error, dict)
        },
    )
