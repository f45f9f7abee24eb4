"""Every error of the HTTP surface is RFC 9457 problem+json, Starlette's own included."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from services.plumbing.problems import install_problem_handlers


class Greeting(BaseModel):
    name: str


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/greetings")
    async def greet(greeting: Greeting) -> dict[str, str]:
        return {"hello": greeting.name}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("fødselsnummer 01010112345 must never reach the caller")

    return app


def test_an_unknown_path_is_a_404_problem() -> None:
    response = TestClient(_app()).get("/nowhere")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {"type": "about:blank", "title": "Not Found", "status": 404}


def test_a_wrong_method_keeps_its_allow_header() -> None:
    response = TestClient(_app()).get("/greetings")

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["title"] == "Method Not Allowed"


def test_an_invalid_body_says_what_was_wrong() -> None:
    response = TestClient(_app()).post("/greetings", json={"navn": "Kari"})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"location": ["body", "name"], "message": "Field required", "type": "missing"}
    ]


def test_an_unexpected_error_tells_nothing_of_its_cause() -> None:
    response = TestClient(_app(), raise_server_exceptions=False).get("/boom")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "01010112345" not in response.text
