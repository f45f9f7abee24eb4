"""Who is calling: OIDC-style JWT bearer tokens, signed by the configured issuer and verified
against its JWKS (a URL, or a file for the local dev issuer). A token names the actor (`sub`),
their organisation (`org`) and their roles (`roles`)."""

import asyncio
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from schemas.codes import Role
from schemas.ids import ActorId, OrganisationId

# The local development issuer (deploy/local/dev_issuer.py); refused in production.
DEV_ISSUER = "urn:overgang:dev-issuer"
AUDIENCE = "overgang"

# Asymmetric algorithms only: a shared secret would let every service mint tokens.
ALGORITHMS = ("ES256", "RS256", "EdDSA")


class Unauthenticated(Exception):
    """The request carries no valid token; the message says what is wrong with it."""


@dataclass(frozen=True)
class Principal:
    """The verified caller: an actor acting for one organisation, in some roles."""

    actor_id: ActorId
    organisation_id: OrganisationId
    roles: frozenset[Role]


class JwksSource:
    """The issuer's public keys, from an https URL (cached, refetched when a key id is
    unknown, at most once a minute) or from a file (the local dev issuer)."""

    def __init__(
        self,
        location: str,
        *,
        cache_s: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.location = location
        self.cache_s = cache_s
        self._transport = transport
        self._keys: KeySet | None = None
        self._fetched_at = 0.0

    async def keys(self, *, refresh: bool = False) -> KeySet:
        stale = time.monotonic() - self._fetched_at > self.cache_s
        # A refresh for an unknown key id is allowed once a minute, no more.
        allowed = refresh and time.monotonic() - self._fetched_at > 60
        if self._keys is None or stale or allowed:
            self._keys = KeySet.import_key_set(await self._load())
            self._fetched_at = time.monotonic()
        return self._keys

    async def verified(self, token: str) -> tuple[KeySet, dict[str, Any]]:
        """The token's claims once its signature verifies with one of the keys, and the key
        set that verified it. A key id not in the set fetches the keys again (a rotation at
        the issuer), at most once a minute. Raises JoseError or ValueError."""
        keys = await self.keys()
        try:
            return keys, jwt.decode(token, keys, algorithms=ALGORITHMS).claims
        except JoseError as error:
            if "kid" not in str(error).lower():
                raise
        keys = await self.keys(refresh=True)
        return keys, jwt.decode(token, keys, algorithms=ALGORITHMS).claims

    async def _load(self) -> Any:
        if self.location.startswith(("https://", "http://")):
            async with httpx.AsyncClient(transport=self._transport, timeout=5) as client:
                response = await client.get(self.location)
                response.raise_for_status()
                return response.json()
        return json.loads(await asyncio.to_thread(Path(self.location).read_text))


class TokenVerifier:
    def __init__(
        self,
        jwks: JwksSource,
        *,
        issuer: str,
        audience: str,
        leeway_s: int = 30,
        clock: Callable[[], float] = time.time,
        remembered_tokens: int = 10_000,
    ) -> None:
        self.jwks = jwks
        self.remembered_tokens = remembered_tokens
        self._verified: OrderedDict[str, tuple[KeySet, dict[str, Any]]] = OrderedDict()
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self.clock = clock

    async def verify(self, token: str) -> Principal:
        claims = await self._signed_claims(token)
        registry = JWTClaimsRegistry(
            now=lambda: int(self.clock()),
            leeway=self.leeway_s,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            sub={"essential": True},
            org={"essential": True},
            roles={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            raise Unauthenticated(f"the token is not acceptable: {error.description}") from None
        return principal_of(claims)

    async def _signed_claims(self, token: str) -> dict[str, Any]:
        """The token's claims once its signature is verified. A client sends the same token
        with every request until it expires, so a verified signature is remembered for the
        key set that verified it (a new key set verifies again); the claims (expiry first)
        are checked on every request all the same."""
        keys = await self.jwks.keys()
        remembered = self._verified.get(token)
        if remembered is not None and remembered[0] is keys:
            return remembered[1]
        try:
            keys, claims = await self.jwks.verified(token)
        except (JoseError, ValueError) as error:
            raise Unauthenticated(f"the token cannot be verified: {type(error).__name__}") from None
        self._verified[token] = (keys, claims)
        if len(self._verified) > self.remembered_tokens:
            self._verified.popitem(last=False)
        return claims


def principal_of(claims: dict[str, Any]) -> Principal:
    """Who a token's claims name: its actor, organisation and roles (the web front reads the
    same claims from the access token its sign-in got)."""
    try:
        roles = claims["roles"]
        if not isinstance(roles, list):
            raise TypeError("roles")
        return Principal(
            actor_id=ActorId(uuid.UUID(str(claims["sub"]))),
            organisation_id=OrganisationId(uuid.UUID(str(claims["org"]))),
            roles=frozenset(Role(role) for role in roles),
        )
    except (TypeError, ValueError):
        raise Unauthenticated(
            "the token's sub and org must be UUIDs and roles a list of known roles"
        ) from None


_bearer = HTTPBearer(auto_error=False, description="a JWT from the configured issuer")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The verified caller, or 401 (problem+json, with WWW-Authenticate)."""
    if credentials is None:
        raise HTTPException(401, "a bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return await verifier.verify(credentials.credentials)
    except Unauthenticated as error:
        raise HTTPException(
            401, str(error), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        ) from None


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through callers with one of `roles`, and answers 403 otherwise."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.roles.isdisjoint(roles):
            needed = ", ".join(sorted(role.value for role in roles))
            raise HTTPException(403, f"this needs one of the roles: {needed}")
        return principal

    return check
