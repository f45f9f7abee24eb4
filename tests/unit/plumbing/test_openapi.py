"""The served OpenAPI declares the problem+json that every error really is."""

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from services.plumbing.openapi import declare_problem_responses

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}


class Greeting(BaseModel):
    name: str


def _app() -> FastAPI:
    app = FastAPI()
    declare_problem_responses(app)

    # Included after the call: the declaration is made when the schema is first built.
    @app.post(
        "/greetings",
        responses={
            409: {"description": "taken", "content": {"application/problem+json": {}}},
            404: {"description": "a model of its own", "model": Greeting},
        },
    )
    async def greet(greeting: Greeting) -> Greeting:
        return greeting

    @app.get("/greetings")
    async def greetings() -> list[Greeting]:
        return []

    return app


def _responses(schema: dict[str, Any], method: str) -> dict[str, Any]:
    responses: dict[str, Any] = schema["paths"]["/greetings"][method]["responses"]
    return responses


def test_validation_errors_are_declared_as_problems() -> None:
    schema = _app().openapi()

    assert _responses(schema, "post")["422"]["content"] == PROBLEM
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "ValidationError" not in schema["components"]["schemas"]


def test_every_operation_may_answer_a_4xx_or_5xx_problem() -> None:
    schema = _app().openapi()

    for method in ("get", "post"):
        assert _responses(schema, method)["4XX"]["content"] == PROBLEM
        assert _responses(schema, method)["5XX"]["content"] == PROBLEM
    problem = schema["components"]["schemas"]["ProblemDetails"]
    assert set(problem["required"]) == {"type", "title", "status"}


def test_a_declared_problem_gets_its_schema_and_a_declared_model_is_kept() -> None:
    schema = _app().openapi()

    assert _responses(schema, "post")["409"]["content"] == PROBLEM
    assert _responses(schema, "post")["404"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/Greeting"}}
    }


def test_the_schema_is_built_once() -> None:
    app = _app()

    assert app.openapi() is app.openapi()
