"""The local development token issuer: a key pair kept in the stack directory, its public
JWKS for the services, and tokens for any organisation and role (`overgang token`).
Development only: a service configured for production refuses this issuer."""

import json
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

from schemas.codes import Role
from services.plumbing.auth import AUDIENCE
from services.plumbing.auth import DEV_ISSUER as ISSUER


def _private_key_file(directory: Path) -> Path:
    return directory / "private-key.json"


def jwks_file(directory: Path) -> Path:
    return directory / "jwks.json"


def _new_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256"}, auto_kid=True)


def _write(directory: Path, signing: ECKey, verifying: list[dict[str, Any]]) -> None:
    """The signing key (private, owner only) and the public keys the services trust, the
    signing key's first."""
    private = _private_key_file(directory)
    private.touch(mode=0o600)
    private.write_text(json.dumps(signing.as_dict(private=True)))
    jwks_file(directory).write_text(json.dumps({"keys": verifying}))


def ensure_keys(directory: Path) -> ECKey:
    """The issuer's signing key, made on first use; its public half is written as a JWKS."""
    private = _private_key_file(directory)
    if private.exists():
        return ECKey.import_key(json.loads(private.read_text()))
    directory.mkdir(parents=True, exist_ok=True)
    key = _new_key()
    _write(directory, key, [key.as_dict(private=False)])
    return key


def published_key_ids(directory: Path) -> list[str]:
    """The key ids of the JWKS the services trust, the signing key's first."""
    return [str(key["kid"]) for key in json.loads(jwks_file(directory).read_text())["keys"]]


def rotate_signing_key(directory: Path) -> str:
    """A new signing key; the JWKS keeps the previous ones, so that tokens signed before still
    verify until they expire (then `retire_signing_keys`). The new key's id."""
    ensure_keys(directory)
    previous = json.loads(jwks_file(directory).read_text())["keys"]
    key = _new_key()
    _write(directory, key, [key.as_dict(private=False), *previous])
    return str(key.kid)


def retire_signing_keys(directory: Path) -> list[str]:
    """Publish the signing key alone: tokens signed by an earlier key are refused from then on
    (by a service once its cached JWKS is refetched, within five minutes). The retired ids."""
    key = ensure_keys(directory)
    retired = [kid for kid in published_key_ids(directory) if kid != key.kid]
    _write(directory, key, [key.as_dict(private=False)])
    return retired


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
