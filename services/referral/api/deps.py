"""What routes take from the request: the pool, the store's keys, the caller in a role, and
the Idempotency-Key."""

from typing import Annotated

import asyncpg
from fastapi import Depends, Header, Request

from schemas.codes import Role
from services.plumbing.auth import CurrentPrincipal, Principal, require_role
from services.referral.crypto import StoreKeys


async def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def _store_keys(request: Request) -> StoreKeys:
    keys: StoreKeys = request.app.state.store_keys
    return keys


async def _allow_synthetic(request: Request) -> bool:
    return bool(request.app.state.allow_synthetic_identity_numbers)


Pool = Annotated[asyncpg.Pool, Depends(_pool)]
Keys = Annotated[StoreKeys, Depends(_store_keys)]
AllowSynthetic = Annotated[bool, Depends(_allow_synthetic)]

# Any authenticated caller, whatever their role.
Caller = CurrentPrincipal
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
# Who registers people: those who file referrals and those who coordinate them.
Registrar = Annotated[Principal, Depends(require_role(Role.FILER, Role.COORDINATOR))]
# Who sends inbound events over HTTP: an organisation's system in the filer role, the role in
# which the school's system files the referral that a "pupil left school" event leads to.
Sender = Annotated[Principal, Depends(require_role(Role.FILER))]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="makes a creating POST safe to retry: a retry with the same key and body "
        "gets the first response; the same key with another body is refused (422)",
    ),
]
