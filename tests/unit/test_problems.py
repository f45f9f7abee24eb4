"""Every error of the HTTP surface is RFC 9457 problem+json, Starlette's own included."""

import asyncpg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from services.plumbing.pagination import CursorParam, decode_cursor, encode_cursor
from services.plumbing.problems import install_problem_handlers


class Greeting(BaseModel):
    name: str


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/greetings")
    async def greet(greeting: Greeting) -> dict[str, str]:
        return {"hello": greeting.name}

    @app.get("/pages")
    async def pages(cursor: CursorParam = None) -> list[str]:
        return [] if cursor is None else decode_cursor(cursor, 2)

    @app.get("/database-restarting")
    async def database_restarting() -> None:
        raise asyncpg.CannotConnectNowError("the database system is shutting down")

    @app.get("/connection-reset")
    async def connection_reset() -> None:
        raise ConnectionResetError(104, "Connection reset by peer")

    @app.get("/connection-lost")
    async def connection_lost() -> None:
        raise asyncpg.InterfaceError(
            "cannot call Transaction.__aexit__(): the underlying connection is closed"
        )

    @app.get("/connection-broken-mid-operation")
    async def connection_broken_mid_operation() -> None:
        # What a request met when PostgreSQL shut down as its connection went back to the pool.
        raise asyncpg.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        )

    @app.get("/driver-misused")
    async def driver_misused() -> None:
        raise asyncpg.InterfaceError("cannot perform operation: another operation is in progress")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("fødselsnummer 01010112345 must never reach the caller")

    return app


def test_an_unknown_path_is_a_404_problem() -> None:
    response = TestClient(_app()).get("/nowhere")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://overgang.no/problems/not-found",
        "title": "Not Found",
        "status": 404,
    }


def test_a_wrong_method_keeps_its_allow_header() -> None:
    response = TestClient(_app()).get("/greetings")

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["title"] == "Method Not Allowed"


def test_an_invalid_body_says_what_was_wrong() -> None:
    response = TestClient(_app()).post("/greetings", json={"navn": "Kari"})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://overgang.no/problems/invalid-request"
    assert response.json()["errors"] == [
        {
            "field": "name",
            "location": ["body", "name"],
            "message": "Field required",
            "type": "missing",
        }
    ]


def test_an_unexpected_error_tells_nothing_of_its_cause() -> None:
    response = TestClient(_app(), raise_server_exceptions=False).get("/boom")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "01010112345" not in response.text


def test_a_cursor_not_made_by_the_list_names_the_cursor_parameter() -> None:
    client = TestClient(_app())
    assert client.get("/pages", params={"cursor": encode_cursor("a", "b")}).json() == ["a", "b"]

    for bad in ("not-base64!", encode_cursor("only one"), "WzEsMl0"):  # the last is [1,2]
        response = client.get("/pages", params={"cursor": bad})
        assert response.status_code == 422
        assert response.json()["type"] == "https://overgang.no/problems/invalid-cursor"
        assert [error["field"] for error in response.json()["errors"]] == ["cursor"]


@pytest.mark.parametrize(
    "path",
    [
        "/database-restarting",
        "/connection-lost",
        "/connection-reset",
        "/connection-broken-mid-operation",
    ],
)
def test_a_database_out_of_reach_is_a_503_to_send_again(path: str) -> None:
    response = TestClient(_app(), raise_server_exceptions=False).get(path)

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"] == "https://overgang.no/problems/database-unavailable"
    assert "send it again" in response.json()["detail"]


def test_a_driver_misused_is_a_500_not_a_503() -> None:
    response = TestClient(_app(), raise_server_exceptions=False).get("/driver-misused")

    assert response.status_code == 500
    assert "another operation" not in response.text
