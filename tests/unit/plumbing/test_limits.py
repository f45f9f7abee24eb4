"""Request limits: a body past the limit is a 413 whether declared or streamed, a body that is
not JSON is a 415, and what is within the rules reaches the route untouched."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from services.plumbing.limits import install_request_limits, is_json
from services.plumbing.problems import install_problem_handlers

LIMIT = 1024
PROBLEM_JSON = "application/problem+json"


class Note(BaseModel):
    text: str


def _app(seen: list[str]) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_request_limits(app, LIMIT)

    @app.post("/notes")
    async def write(note: Note) -> dict[str, int]:
        seen.append("notes")
        return {"length": len(note.text)}

    @app.put("/raw")
    async def raw(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append("raw")
        return {"length": len(body)}

    @app.post("/receive")
    async def receive() -> dict[str, str]:
        seen.append("receive")
        return {"status": "received"}

    @app.get("/notes")
    async def read() -> list[str]:
        return []

    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _note_of(size: int) -> bytes:
    """A JSON note of exactly `size` bytes."""
    body = json.dumps({"text": ""}).encode()
    return json.dumps({"text": "a" * (size - len(body))}).encode()


async def _chunks(count: int, sent: list[int]) -> AsyncIterator[bytes]:
    yield b'{"text": "'
    for _ in range(count):
        sent.append(1)
        yield b"a" * 256
    yield b'"}'


async def test_a_body_of_exactly_the_limit_reaches_the_route() -> None:
    seen: list[str] = []
    async with _client(_app(seen)) as client:
        response = await client.post(
            "/notes", content=_note_of(LIMIT), headers={"Content-Type": "application/json"}
        )

    assert response.status_code == 200, response.text
    assert response.json() == {"length": LIMIT - len(b'{"text": ""}')}
    assert seen == ["notes"]


async def test_a_content_length_past_the_limit_is_a_413_problem_before_the_route() -> None:
    seen: list[str] = []
    async with _client(_app(seen)) as client:
        response = await client.post(
            "/notes", content=_note_of(LIMIT + 1), headers={"Content-Type": "application/json"}
        )

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "https://overgang.no/problems/request-too-large",
        "title": "Content Too Large",
        "status": 413,
        "detail": f"the request body is larger than {LIMIT} bytes",
        "max_bytes": LIMIT,
    }
    assert seen == []


@pytest.mark.parametrize("path", ["/notes", "/raw"])
async def test_a_streamed_body_growing_past_the_limit_is_a_413_and_is_not_read_to_its_end(
    path: str,
) -> None:
    seen: list[str] = []
    sent: list[int] = []
    async with _client(_app(seen)) as client:
        response = await client.request(
            "POST" if path == "/notes" else "PUT",
            path,
            content=_chunks(100, sent),
            headers={"Content-Type": "application/json"},
        )

    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == "https://overgang.no/problems/request-too-large"
    assert seen == []
    # Read up to the chunk that crossed the limit, and no further.
    assert len(sent) <= LIMIT // 256 + 1


async def test_a_streamed_body_within_the_limit_reaches_the_route() -> None:
    seen: list[str] = []
    sent: list[int] = []
    async with _client(_app(seen)) as client:
        response = await client.post(
            "/notes", content=_chunks(3, sent), headers={"Content-Type": "application/json"}
        )

    assert response.status_code == 200, response.text
    assert response.json() == {"length": 3 * 256}


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
async def test_a_body_that_is_not_json_is_a_415_problem(content_type: str | None) -> None:
    seen: list[str] = []
    headers = {} if content_type is None else {"Content-Type": content_type}
    async with _client(_app(seen)) as client:
        response = await client.post("/notes", content=b'{"text": "hei"}', headers=headers)

    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["accept"] == "application/json"
    assert response.json()["type"] == "https://overgang.no/problems/unsupported-media-type"
    assert response.json()["status"] == 415
    assert seen == []


async def test_a_json_body_with_a_charset_or_a_json_suffix_is_accepted() -> None:
    seen: list[str] = []
    async with _client(_app(seen)) as client:
        with_charset = await client.post(
            "/notes",
            content=b'{"text": "hei"}',
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        merge_patch = await client.put(
            "/raw", content=b"{}", headers={"Content-Type": "application/merge-patch+json"}
        )

    assert with_charset.status_code == 200, with_charset.text
    assert merge_patch.status_code == 200, merge_patch.text


async def test_a_post_without_a_body_needs_no_content_type() -> None:
    seen: list[str] = []
    async with _client(_app(seen)) as client:
        response = await client.post("/receive")

    assert response.status_code == 200, response.text
    assert seen == ["receive"]


async def test_a_get_passes_whatever_its_headers() -> None:
    async with _client(_app([])) as client:
        response = await client.get("/notes", headers={"Content-Type": "text/plain"})

    assert response.status_code == 200


def test_json_media_types() -> None:
    assert is_json("application/json")
    assert is_json("Application/JSON; charset=utf-8")
    assert is_json("application/problem+json")
    assert not is_json("application/jsonx")
    assert not is_json("text/json")
    assert not is_json("")
    assert not is_json(None)
