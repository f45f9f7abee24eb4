"""What the routes depend on: the pool, the caller (auditor or admin), strict query strings."""

from collections.abc import Callable
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError

from schemas.codes import Role
from services.plumbing.auth import Principal, require_role


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


Pool = Annotated[asyncpg.Pool, Depends(_pool)]
# Only auditors and administrators read the audit service, each within their own county.
Auditor = Annotated[Principal, Depends(require_role(Role.AUDITOR, Role.ADMIN))]


def only_query(*names: str) -> Callable[[Request], None]:
    """A dependency that refuses query parameters other than `names` (strict inputs)."""

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(names))
        if unknown:
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", name),
                        "msg": "unknown query parameter",
                        "type": "extra_forbidden",
                    }
                    for name in unknown
                ]
            )

    return check
