"""The web front as an OpenID Connect client: the authorization code flow with PKCE (S256),
a `state` against forged callbacks and a `nonce` against replayed ID tokens, all three kept in
the session until the provider sends the person back. The same code talks to the local dev
provider (`deploy/local/dev_oidc.py`) and to a county's identity provider.

The provider's access token is what the pages call the services with; they verify it again
on every call. Its signature is checked here against the provider's JWKS too, because the
pages show who it names (`sub`, `org`, `roles`): it must be the provider's, for the person
the ID token names."""

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from services.plumbing.auth import JwksSource, Principal, Unauthenticated, principal_of


def pkce_challenge(verifier: str) -> str:
    """The S256 challenge of a PKCE verifier (RFC 7636, 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class SignInFailed(Exception):
    """The sign-in cannot be completed; the message says why (for the log, not the page)."""


@dataclass(frozen=True)
class Pending:
    """A sign-in under way: what the callback must match, kept in the session."""

    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls) -> "Pending":
        return cls(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            # 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636): 64 random bytes, base64url.
            verifier=secrets.token_urlsafe(64),
        )

    @property
    def challenge(self) -> str:
        return pkce_challenge(self.verifier)

    def as_session(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_session(cls, found: object) -> "Pending | None":
        if not isinstance(found, dict):
            return None
        try:
            return cls(state=found["state"], nonce=found["nonce"], verifier=found["verifier"])
        except KeyError:
            return None


@dataclass(frozen=True)
class Signed:
    """A completed sign-in: the token for the services and who it names."""

    access_token: str
    principal: Principal


class OidcClient:
    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        discovery_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        leeway_s: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Exactly as configured: the provider's configuration and tokens name it so, a
        # trailing slash included (OpenID Connect Discovery 1.0, 4).
        self.issuer = issuer
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.discovery_url = (
            discovery_url or f"{issuer.rstrip('/')}/.well-known/openid-configuration"
        )
        self._transport = transport
        self._leeway_s = leeway_s
        self._clock = clock
        self._metadata: dict[str, Any] | None = None
        self._jwks: JwksSource | None = None

    async def metadata(self) -> dict[str, Any]:
        """The provider's configuration (fetched once; again after a failure)."""
        if self._metadata is None:
            try:
                async with httpx.AsyncClient(transport=self._transport, timeout=10) as client:
                    response = await client.get(self.discovery_url)
                    response.raise_for_status()
                    found = response.json()
            except (httpx.HTTPError, ValueError) as error:
                raise SignInFailed(f"no provider configuration: {type(error).__name__}") from None
            # OpenID Connect Discovery 1.0, 4.3: the issuer must be the one asked for.
            if not isinstance(found, dict) or found.get("issuer") != self.issuer:
                raise SignInFailed("the provider's configuration names another issuer")
            self._metadata = found
            self._jwks = JwksSource(str(found["jwks_uri"]), transport=self._transport)
        return self._metadata

    async def authorization_url(self, pending: Pending) -> str:
        endpoint = str((await self.metadata())["authorization_endpoint"])
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": "openid",
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": pending.challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def finish(self, pending: Pending, *, code: str) -> Signed:
        """Exchange the code (with the PKCE verifier and the client's secret) and check what
        comes back. The caller has matched the callback's `state` with `pending` already."""
        metadata = await self.metadata()
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=10) as client:
                response = await client.post(
                    str(metadata["token_endpoint"]),
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": self.redirect_uri,
                        "code_verifier": pending.verifier,
                    },
                    auth=(self.client_id, self._client_secret),
                    headers={"Accept": "application/json"},
                )
            tokens = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise SignInFailed(f"the token endpoint failed: {type(error).__name__}") from None
        if not response.is_success or not isinstance(tokens, dict):
            error_code = tokens.get("error") if isinstance(tokens, dict) else None
            raise SignInFailed(f"the token endpoint refused: {response.status_code} {error_code}")
        access_token, id_token = tokens.get("access_token"), tokens.get("id_token")
        if not isinstance(access_token, str) or not isinstance(id_token, str):
            raise SignInFailed("the token endpoint gave no access token or no ID token")

        identity = await self._verified(id_token)
        registry = JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=self._leeway_s,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            exp={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": pending.nonce},
        )
        try:
            registry.validate(identity)
        except JoseError as error:
            raise SignInFailed(f"the ID token is not acceptable: {error.error}") from None

        claims = await self._verified(access_token)
        if claims.get("sub") != identity["sub"]:
            raise SignInFailed("the access token is for someone else than the ID token")
        try:
            principal = principal_of(claims)
        except Unauthenticated as error:
            raise SignInFailed(f"the access token does not say who: {error}") from None
        return Signed(access_token=access_token, principal=principal)

    async def _verified(self, token: str) -> dict[str, Any]:
        """The token's claims, once its signature verifies with the provider's keys."""
        assert self._jwks is not None, "metadata() first"
        try:
            _, claims = await self._jwks.verified(token)
        except (JoseError, ValueError, httpx.HTTPError) as error:
            raise SignInFailed(f"a token does not verify: {type(error).__name__}") from None
        return claims
