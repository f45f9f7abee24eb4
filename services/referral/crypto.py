"""Envelope encryption of a person's data (crypto-shredding) and the blind index that finds a
person again by identity number.

Each person has a random 256-bit data key. Their data is AES-256-GCM encrypted under it, with
the subject_id as associated data (a ciphertext moved to another person does not decrypt);
the data key is stored only wrapped (AES-256-GCM) by the master key. Destroying the wrapped
key makes every ciphertext of the person unreadable, wherever copies of it are. The blind
index is HMAC-SHA256 of the normalised number under a separate index key. Keys are passed in
and never appear in a repr, a message or a log line."""

import hashlib
import hmac
import os
import uuid
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
_NONCE_BYTES = 12
# A wrapped key is bound to its purpose, so that a data ciphertext is never taken for one.
_WRAP_CONTEXT = b"overgang:subject-data-key:v1"


class CannotDecrypt(Exception):
    """A ciphertext could not be decrypted: wrong or destroyed key, or tampered data."""


@dataclass(frozen=True)
class StoreKeys:
    """The referral store's keys: the master key wraps data keys; the index key makes blind
    indexes. Both 32 random bytes from settings. While the master key is rotated, the keys
    it replaced are `retired_master_keys`: they still open data keys wrapped before, and
    never wrap one (`rewrap_data_keys` moves every data key to the master key)."""

    master_key: bytes = field(repr=False)
    index_key: bytes = field(repr=False)
    retired_master_keys: tuple[bytes, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if any(
            len(key) != KEY_BYTES
            for key in (self.master_key, self.index_key, *self.retired_master_keys)
        ):
            raise ValueError("the master, retired master and index keys must be 32 bytes each")
        if any(
            hmac.compare_digest(key, self.index_key)
            for key in (self.master_key, *self.retired_master_keys)
        ):
            raise ValueError("the index key must differ from every master key")

    def wrap(self, data_key: bytes, subject_id: uuid.UUID) -> bytes:
        """The person's data key wrapped by the master key."""
        return wrap_key(data_key, self.master_key, subject_id)

    def unwrap(self, wrapped: bytes | None, subject_id: uuid.UUID) -> bytes:
        """The person's data key, wrapped by the master key or a retired one; CannotDecrypt
        when it was destroyed or no key opens it."""
        for master_key in (self.master_key, *self.retired_master_keys):
            try:
                return unwrap_key(wrapped, master_key, subject_id)
            except CannotDecrypt:
                if wrapped is None:
                    raise
        raise CannotDecrypt("no master key opens the person's data key")

    def wrapped_by_master_key(self, wrapped: bytes, subject_id: uuid.UUID) -> bool:
        try:
            unwrap_key(wrapped, self.master_key, subject_id)
        except CannotDecrypt:
            return False
        return True


def new_data_key() -> bytes:
    """A fresh random data key for one person."""
    return AESGCM.generate_key(bit_length=256)


def _seal(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def _open(key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
    if len(sealed) <= _NONCE_BYTES:
        raise CannotDecrypt("the ciphertext is too short")
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], associated_data)
    except InvalidTag as error:
        raise CannotDecrypt("the key is wrong or the data was changed") from error


def wrap_key(data_key: bytes, master_key: bytes, subject_id: uuid.UUID) -> bytes:
    """The data key encrypted by the master key, bound to the person."""
    return _seal(master_key, data_key, _WRAP_CONTEXT + subject_id.bytes)


def unwrap_key(wrapped: bytes | None, master_key: bytes, subject_id: uuid.UUID) -> bytes:
    """The data key; CannotDecrypt when it was destroyed (None) or does not open."""
    if wrapped is None:
        raise CannotDecrypt("the person's key was destroyed")
    return _open(master_key, wrapped, _WRAP_CONTEXT + subject_id.bytes)


def encrypt(plaintext: str, data_key: bytes, subject_id: uuid.UUID) -> bytes:
    """Text encrypted under the person's data key, bound to the person."""
    return _seal(data_key, plaintext.encode(), subject_id.bytes)


def decrypt(ciphertext: bytes, data_key: bytes, subject_id: uuid.UUID) -> str:
    """The text; CannotDecrypt when the key or the person does not match."""
    return _open(data_key, ciphertext, subject_id.bytes).decode()


def blind_index(number: str, index_key: bytes) -> bytes:
    """HMAC-SHA256 of the number without spaces and hyphens: equal numbers, equal index."""
    normalised = number.replace(" ", "").replace("-", "")
    return hmac.new(index_key, normalised.encode(), hashlib.sha256).digest()
