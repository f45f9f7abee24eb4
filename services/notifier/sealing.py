"""Signing secrets at rest: AES-256-GCM under the service's secret key (from settings), bound
to their subscription (its id is the associated data, so a ciphertext moved to another
subscription does not open). The key never appears in a repr, a message or a log line. While
the key is rotated, the keys it replaced are `retired`: they open what they sealed, and seal
nothing (`overgang keys reseal` seals every secret anew by the key)."""

import os
import uuid
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
_NONCE_BYTES = 12
_CONTEXT = b"overgang:webhook-signing-secret:v1"


class CannotOpen(Exception):
    """A sealed secret did not open: another key, another subscription, or changed bytes."""


@dataclass(frozen=True)
class SecretBox:
    key: bytes = field(repr=False)
    retired: tuple[bytes, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if any(len(key) != KEY_BYTES for key in (self.key, *self.retired)):
            raise ValueError(f"the secret key must be {KEY_BYTES} bytes")

    def seal(self, secret: str, subscription_id: uuid.UUID) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + AESGCM(self.key).encrypt(
            nonce, secret.encode(), _CONTEXT + subscription_id.bytes
        )

    def open(self, sealed: bytes, subscription_id: uuid.UUID) -> str:
        """The secret, sealed by the key or a retired one; CannotOpen when none opens it."""
        for key in (self.key, *self.retired):
            try:
                return _open(key, sealed, subscription_id)
            except CannotOpen:
                continue
        raise CannotOpen("the signing secret does not open")

    def sealed_by_key(self, sealed: bytes, subscription_id: uuid.UUID) -> bool:
        try:
            _open(self.key, sealed, subscription_id)
        except CannotOpen:
            return False
        return True


def _open(key: bytes, sealed: bytes, subscription_id: uuid.UUID) -> str:
    try:
        return (
            AESGCM(key)
            .decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _CONTEXT + subscription_id.bytes)
            .decode()
        )
    except (InvalidTag, ValueError) as error:
        raise CannotOpen("the signing secret does not open") from error
