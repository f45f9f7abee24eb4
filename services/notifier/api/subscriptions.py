"""/v1/subscriptions: an organisation's administrators make (a webhook or an e-mail to a
functional address), list, read, pause, resume and delete its subscriptions. Another
organisation's subscription does not exist for them (404)."""

import datetime as dt
import hashlib
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from schemas.ids import OrganisationId, SubscriptionId
from services.notifier.api.deps import Admin, Box, EmailEnabled, IdempotencyKey, Pool, Rules
from services.notifier.domain.subscriptions import Subscription
from services.notifier.usecases import subscriptions
from services.notifier.usecases.clock import now
from services.plumbing import idempotency
from services.plumbing.idempotency import IdempotencyScope, StoredResponse
from services.plumbing.pagination import (
    CursorParam,
    LimitParam,
    decode_time_and_id,
    encode_time_and_id,
)

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])

SubscriptionPath = Annotated[uuid.UUID, Path(description="the subscription")]


EventType = Annotated[
    str, Field(max_length=100, pattern=r"^no\.overgang\.[a-z_]+\.[a-z_]+\.v[0-9]+$")
]
EventTypes = Annotated[
    list[EventType],
    Field(min_length=1, max_length=100, description="the CloudEvents types wanted"),
]


class WebhookSubscriptionCreate(BaseModel):
    """A webhook subscription: where to POST, and which event types."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["webhook"] = Field("webhook", description="the channel (the default)")
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="where events are POSTed: https (http only outside production); its host "
        "must not resolve to a private, loopback, link-local or otherwise internal address",
    )
    event_types: EventTypes


class EmailSubscriptionCreate(BaseModel):
    """An e-mail subscription: a functional mailbox, and which event types. Each message says
    only what kind of news there is and where to look (the referral's id at most)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["email"] = Field(description="the channel")
    address: str = Field(
        min_length=3,
        max_length=254,
        description="a functional mailbox of the organisation (e.g. post@nav-bergenhus.no), "
        "never a person's own address",
        examples=["oppfolging@vestlandfylke.no"],
    )
    event_types: EventTypes


def _kind(value: Any) -> str:
    # A body without `kind` is a webhook's (as before e-mail came).
    if isinstance(value, dict):
        return str(value.get("kind", "webhook"))
    return str(getattr(value, "kind", "webhook"))


SubscriptionCreate = Annotated[
    Annotated[WebhookSubscriptionCreate, Tag("webhook")]
    | Annotated[EmailSubscriptionCreate, Tag("email")],
    Discriminator(_kind),
]


class SubscriptionRead(BaseModel):
    """A subscription; its signing secret is never shown here."""

    subscription_id: SubscriptionId
    organisation_id: OrganisationId
    kind: str = Field(description="the channel: webhook or email")
    url: str | None = Field(description="where webhooks go")
    address: str | None = Field(description="where e-mail goes")
    event_types: list[str] = Field(description="the event types wanted")
    paused: bool = Field(description="paused subscriptions get no new deliveries or attempts")
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, subscription: Subscription) -> "SubscriptionRead":
        return cls(
            subscription_id=subscription.subscription_id,
            organisation_id=subscription.organisation_id,
            kind=subscription.kind.value,
            url=subscription.url,
            address=subscription.address,
            event_types=sorted(subscription.event_types),
            paused=subscription.paused,
            created_at=subscription.created_at,
            updated_at=subscription.updated_at,
        )


class SubscriptionCreated(SubscriptionRead):
    """A new subscription, with its signing secret: shown this once, never again."""

    secret: str | None = Field(
        description="a webhook's Standard Webhooks signing secret (whsec_...); keep it now: it "
        "is never shown again (a replay of this answer by Idempotency-Key shows it while the "
        "subscription lives); null for e-mail"
    )


class SubscriptionPage(BaseModel):
    items: list[SubscriptionRead]
    next_cursor: str | None = Field(description="for the next page; absent on the last")


def _fingerprint(request: Request, body: BaseModel) -> bytes:
    message = b"\0".join(
        (request.method.encode(), request.url.path.encode(), body.model_dump_json().encode())
    )
    return hashlib.sha256(message).digest()


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionCreated,
    summary="Subscribe to event types through a webhook (the answer shows its secret once) "
    "or e-mail to a functional address",
)
async def create_subscription(
    body: Annotated[SubscriptionCreate, Body()],
    request: Request,
    principal: Admin,
    pool: Pool,
    box: Box,
    rules: Rules,
    email_enabled: EmailEnabled,
    key: IdempotencyKey = None,
) -> JSONResponse:
    target = None
    if isinstance(body, WebhookSubscriptionCreate):
        target = await subscriptions.check_target(body.url, rules)
    async with pool.acquire() as connection, connection.transaction():
        scope = IdempotencyScope(principal.organisation_id, principal.actor_id, key or "")
        if key is not None:
            stored = await idempotency.claim(connection, scope, _fingerprint(request, body), now())
            if stored is not None:
                replayed = dict(stored.body)
                replayed["secret"] = await subscriptions.secret_again(
                    connection, uuid.UUID(replayed["subscription_id"]), box
                )
                return JSONResponse(
                    replayed,
                    status_code=stored.status,
                    headers={"Idempotent-Replayed": "true", "Location": _location(replayed)},
                )
        if isinstance(body, EmailSubscriptionCreate):
            created = await subscriptions.create_email(
                connection,
                organisation_id=principal.organisation_id,
                actor_id=principal.actor_id,
                address=body.address,
                event_types=body.event_types,
                email_enabled=email_enabled,
                now=now(),
            )
        else:
            assert target is not None
            created = await subscriptions.create_webhook(
                connection,
                organisation_id=principal.organisation_id,
                actor_id=principal.actor_id,
                target=target,
                event_types=body.event_types,
                box=box,
                now=now(),
            )
        content = SubscriptionCreated(
            **SubscriptionRead.of(created.subscription).model_dump(), secret=created.secret
        ).model_dump(mode="json")
        if key is not None:
            # The stored answer never holds the secret; a replay takes it from the sealed copy.
            kept = {name: value for name, value in content.items() if name != "secret"}
            await idempotency.record(connection, scope, StoredResponse(201, kept))
    return JSONResponse(content, status_code=201, headers={"Location": _location(content)})


def _location(body: dict[str, object]) -> str:
    return f"/v1/subscriptions/{body['subscription_id']}"


@router.get("", summary="The organisation's subscriptions, oldest first")
async def list_subscriptions(
    principal: Admin, pool: Pool, cursor: CursorParam = None, limit: LimitParam = 50
) -> SubscriptionPage:
    async with pool.acquire() as connection:
        found = await subscriptions.page(
            connection, principal.organisation_id, after=decode_time_and_id(cursor), limit=limit + 1
        )
    items = found[:limit]
    following = None
    if len(found) > limit:
        following = encode_time_and_id(items[-1].created_at, items[-1].subscription_id)
    return SubscriptionPage(
        items=[SubscriptionRead.of(item) for item in items], next_cursor=following
    )


@router.get("/{subscription_id}", summary="One subscription of the organisation")
async def read_subscription(
    subscription_id: SubscriptionPath, principal: Admin, pool: Pool
) -> SubscriptionRead:
    async with pool.acquire() as connection:
        found = await subscriptions.read(connection, principal.organisation_id, subscription_id)
    return SubscriptionRead.of(found)


@router.post("/{subscription_id}/pause", summary="Stop deliveries until resumed")
async def pause_subscription(
    subscription_id: SubscriptionPath, principal: Admin, pool: Pool
) -> SubscriptionRead:
    async with pool.acquire() as connection:
        changed = await subscriptions.set_paused(
            connection, principal.organisation_id, subscription_id, paused=True, now=now()
        )
    return SubscriptionRead.of(changed)


@router.post("/{subscription_id}/resume", summary="Deliver again, pending deliveries first")
async def resume_subscription(
    subscription_id: SubscriptionPath, principal: Admin, pool: Pool, request: Request
) -> SubscriptionRead:
    async with pool.acquire() as connection:
        changed = await subscriptions.set_paused(
            connection, principal.organisation_id, subscription_id, paused=False, now=now()
        )
    _wake_worker(request)
    return SubscriptionRead.of(changed)


@router.delete(
    "/{subscription_id}",
    status_code=204,
    summary="Delete a subscription: its secret is wiped and its undelivered deliveries cancelled",
)
async def delete_subscription(
    subscription_id: SubscriptionPath, principal: Admin, pool: Pool
) -> Response:
    async with pool.acquire() as connection:
        await subscriptions.delete(connection, principal.organisation_id, subscription_id, now())
    return Response(status_code=204)


def _wake_worker(request: Request) -> None:
    worker = getattr(request.app.state, "delivery_worker", None)
    if worker is not None:
        worker.wake()
