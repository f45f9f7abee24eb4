"""`/v1/events`: the HTTP door for systems that cannot speak Kafka. They POST CloudEvents in
the HTTP protocol binding's binary, structured or batch mode, with a bearer token of their
organisation in the filer role (as the school's system files the referral that follows);
the answer is 202 once every event is on its inbound topic. See docs/ingress.md."""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.plumbing.http_binding import BATCH, BINARY_DATA, MEDIA_TYPES, STRUCTURED, Mode
from services.plumbing.http_binding import read_events as read_request
from services.plumbing.problems import PROBLEM_JSON
from services.referral.api.deps import Keys, Pool, Sender
from services.referral.store.receipts import Receipt
from services.referral.usecases import ingress
from services.referral.usecases.acting import now

PATH = "/v1/events"
router = APIRouter(prefix=PATH, tags=["events"])
_REF = "#/components/schemas/"


@dataclass(frozen=True)
class IngressSettings:
    """Where taken events go (the declared topic's name, unless a test says otherwise), how
    long Kafka may take to acknowledge them, and how many a batch may hold."""

    topics: dict[str, str]
    publish_timeout_s: float
    max_batch: int


class EventReceipt(BaseModel):
    """That an event was received and is on its inbound topic."""

    id: uuid.UUID = Field(description="the event's CloudEvents id")
    source: str = Field(description="the event's CloudEvents source")
    type: str = Field(description="the event's CloudEvents type")
    received_at: dt.datetime = Field(
        description="when it was first received; a resend is answered with the same receipt"
    )


class EventReceipts(BaseModel):
    """A batch's receipts, in the batch's order."""

    receipts: list[EventReceipt]


def _receipt(receipt: Receipt) -> dict[str, Any]:
    return EventReceipt(
        id=receipt.event_id,
        source=receipt.source,
        type=receipt.event_type,
        received_at=receipt.received_at,
    ).model_dump(mode="json")


def _binary_headers() -> list[dict[str, Any]]:
    described = {
        "ce-specversion": "binary mode: the CloudEvents version, 1.0",
        "ce-id": "binary mode: the event's id, a UUID (unique per source)",
        "ce-source": "binary mode: the sending system, a URI-reference",
        "ce-type": "binary mode: the event type, e.g. no.overgang.inbound.pupil_left_school.v1",
        "ce-time": "binary mode: when it happened, RFC 3339 with an offset",
    }
    return [
        {
            "name": name,
            "in": "header",
            "required": False,
            "description": description,
            "schema": {"type": "string"},
        }
        for name, description in described.items()
    ]


def _structured_schema() -> dict[str, Any]:
    data = [{"$ref": _REF + model.__name__} for model in ingress.TAKEN_TYPES.values()]
    return {
        "type": "object",
        "description": "one CloudEvent in the JSON event format",
        "additionalProperties": False,
        "required": ["specversion", "id", "source", "type", "time", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "format": "uuid"},
            "source": {"type": "string", "minLength": 1, "maxLength": 200},
            "type": {"enum": list(ingress.TAKEN_TYPES)},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "data": {"oneOf": data},
        },
    }


_OPENAPI: dict[str, Any] = {
    "parameters": _binary_headers(),
    "requestBody": {
        "required": True,
        "description": "binary mode (application/json: the data, attributes in ce- headers), "
        "structured mode (one event) or batch mode (a JSON array of events)",
        "content": {
            BINARY_DATA: {
                "schema": {
                    "oneOf": [{"$ref": _REF + m.__name__} for m in ingress.TAKEN_TYPES.values()]
                }
            },
            STRUCTURED: {"schema": {"$ref": _REF + "StructuredCloudEvent"}},
            BATCH: {"schema": {"type": "array", "items": {"$ref": _REF + "StructuredCloudEvent"}}},
        },
    },
}


def _problem(description: str, **headers: str) -> dict[str, Any]:
    declared = {
        name.replace("_", "-"): {"description": text, "schema": {"type": "string"}}
        for name, text in headers.items()
    }
    response: dict[str, Any] = {"description": description, "content": {PROBLEM_JSON: {}}}
    if declared:
        response["headers"] = declared
    return response


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventReceipt | EventReceipts,
    summary="Send inbound CloudEvents over HTTP (binary, structured or batch mode)",
    description="Accepted (202) once every event is on its inbound topic; a resend of an "
    "event (same id and source, same content) is answered as the first time and publishes "
    "nothing. A batch is checked whole first and refused whole, naming each bad event's index.",
    responses={
        202: {
            "description": "every event is on its inbound topic (a structured or binary "
            "request gets one receipt, a batch its receipts); Idempotent-Replayed: true when "
            "every event had been received before",
            "headers": {
                "Idempotent-Replayed": {
                    "description": "true when every event had been received before",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            },
        },
        400: _problem("an event is not a valid CloudEvent, or not of a type taken here"),
        401: _problem("no valid bearer token", WWW_Authenticate="the Bearer challenge"),
        403: _problem("the caller is not a filer, or an event is about another organisation"),
        409: _problem("another event was received before under the same id and source"),
        413: _problem("the body is too large, or the batch holds too many events"),
        415: _problem(
            "the Content-Type is not one of the three modes' media types",
            Accept="the media types taken",
        ),
        503: _problem(
            "Kafka did not take the events; nothing is received: send them again",
            Retry_After="seconds to wait before sending again",
        ),
    },
    openapi_extra=_OPENAPI,
)
async def receive_events(
    request: Request, principal: Sender, pool: Pool, keys: Keys
) -> JSONResponse:
    settings: IngressSettings = request.app.state.ingress
    mode, events = read_request(request.headers, await request.body(), max_batch=settings.max_batch)
    batch = mode is Mode.BATCH
    checked = ingress.check(events, batch=batch)
    received = await ingress.receive(
        pool,
        request.app.state.kafka,
        principal,
        checked,
        batch=batch,
        keys=keys,
        topics=settings.topics,
        publish_timeout_s=settings.publish_timeout_s,
        now=now(),
    )
    headers = {"Idempotent-Replayed": "true"} if received.resent else None
    if batch:
        body: Any = {"receipts": [_receipt(receipt) for receipt in received.receipts]}
    else:
        body = _receipt(received.receipts[0])
    return JSONResponse(body, status_code=status.HTTP_202_ACCEPTED, headers=headers)


def declare_event_schemas(app: FastAPI) -> None:
    """Put the schemas the route's request body refers to (each taken type's data, and the
    structured event) in the served OpenAPI's components. Lazy, like FastAPI's own."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = build()
        if fresh:
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in ingress.TAKEN_TYPES.values():
                found = model.model_json_schema(ref_template=_REF + "{model}", mode="validation")
                components.update(found.pop("$defs", {}))
                components[model.__name__] = found
            components["StructuredCloudEvent"] = _structured_schema()
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


# What the request limits let through to this path (anything else is a 415 there).
ACCEPTED_MEDIA_TYPES = {PATH: MEDIA_TYPES}
