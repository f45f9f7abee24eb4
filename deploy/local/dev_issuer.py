"""The local development token issuer: a key pair kept in the stack directory, its public
JWKS for the services, and tokens for any organisation and role (`overgang token`).
Development only: a service configured for production refuses this issuer."""

import json
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from joserfc import jwt
from joserfc.jwk import ECKey

from schemas.codes import Role
from services.plumbing.auth import AUDIENCE
from services.plumbing.auth import DEV_ISSUER as ISSUER


def _private_key_file(directory: Path) -> Path:
    return directory / "private-key.json"


def jwks_file(directory: Path) -> Path:
    return directory / "jwks.json"


def ensure_keys(directory: Path) -> ECKey:
    """The issuer's signing key, made on first use; its public half is written as a JWKS."""
    private = _private_key_file(directory)
    if private.exists():
        return ECKey.import_key(json.loads(private.read_text()))
    directory.mkdir(parents=True, exist_ok=True)
    key = ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256"}, auto_kid=True)
    private.touch(mode=0o600)
    private.write_text(json.dumps(key.as_dict(private=True)))
    jwks_file(directory).write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    return key


def issue(
    directory: Path,
    *,
    organisation: uuid.UUID,
    roles: Iterable[Role],
    actor: uuid.UUID | None = None,
    ttl_s: int = 3600,
    now: float | None = None,
) -> str:
    """A signed token for `actor` (a new random id if none) of `organisation` in `roles`."""
    key = ensure_keys(directory)
    issued_at = int(now if now is not None else time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(actor or uuid.uuid4()),
        "org": str(organisation),
        "roles": sorted(role.value for role in roles),
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + ttl_s,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)
