"""What routes take from the request: the pool, the secret box, the target rules, whether
e-mail can be sent, the caller (as an administrator of their organisation, or as anyone of
it), and the Idempotency-Key."""

from typing import Annotated

import asyncpg
from fastapi import Depends, Header, Request

from schemas.codes import Role
from services.notifier.sealing import SecretBox
from services.notifier.usecases.subscriptions import TargetRules
from services.plumbing.auth import Principal, require_role


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


def _target_rules(request: Request) -> TargetRules:
    rules: TargetRules = request.app.state.target_rules
    return rules


def _email_enabled(request: Request) -> bool:
    return bool(getattr(request.app.state, "email_enabled", False))


Pool = Annotated[asyncpg.Pool, Depends(_pool)]
EmailEnabled = Annotated[bool, Depends(_email_enabled)]
Box = Annotated[SecretBox, Depends(_box)]
Rules = Annotated[TargetRules, Depends(_target_rules)]
# Subscriptions and deliveries are an organisation's administrators' business.
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
# The inbox is everyone's business in the organisation, whatever their role.
Member = Annotated[Principal, Depends(require_role(*Role))]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="makes a creating POST safe to retry: a retry with the same key and body "
        "gets the first response; the same key with another body is refused (422)",
    ),
]
