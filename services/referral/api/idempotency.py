"""Runs a creating request once per Idempotency-Key: the use case, the key's claim and the
recorded response share one transaction."""

import hashlib
import hmac
from collections.abc import Awaitable, Callable

import asyncpg
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.plumbing import idempotency
from services.plumbing.auth import Principal
from services.plumbing.database import Connection
from services.plumbing.idempotency import IdempotencyScope, StoredResponse
from services.referral.crypto import StoreKeys
from services.referral.usecases.acting import now

Action = Callable[[Connection], Awaitable[tuple[int, BaseModel]]]


def _fingerprint(request: Request, body: BaseModel, keys: StoreKeys) -> bytes:
    # Keyed, so that a stored fingerprint of a body with an identity number cannot be
    # brute-forced back to the number.
    message = b"\0".join(
        (
            b"idempotency",
            request.method.encode(),
            request.url.path.encode(),
            body.model_dump_json().encode(),
        )
    )
    return hmac.new(keys.index_key, message, hashlib.sha256).digest()


async def once(
    request: Request,
    pool: asyncpg.Pool,
    principal: Principal,
    key: str | None,
    body: BaseModel,
    keys: StoreKeys,
    action: Action,
) -> JSONResponse:
    """The action's response, or the first response to this key when it is a retry."""
    async with pool.acquire() as connection, connection.transaction():
        if key is None:
            status, result = await action(connection)
            return JSONResponse(result.model_dump(mode="json"), status_code=status)
        scope = IdempotencyScope(principal.organisation_id, principal.actor_id, key)
        stored = await idempotency.claim(
            connection, scope, _fingerprint(request, body, keys), now()
        )
        if stored is not None:
            return JSONResponse(
                stored.body, status_code=stored.status, headers={"Idempotent-Replayed": "true"}
            )
        status, result = await action(connection)
        content = result.model_dump(mode="json")
        await idempotency.record(connection, scope, StoredResponse(status, content))
        return JSONResponse(content, status_code=status)
