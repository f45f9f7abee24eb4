"""Rotating the dev issuer's token signing key, as the services see it: after `rotate`, tokens
signed before and after both verify (the services refetch the JWKS for a key id they do not
know); after `retire`, a token of an earlier key is refused once the JWKS is refetched."""

import base64
import json
import time
import uuid
from pathlib import Path

import pytest

from deploy.local import cli
from deploy.local.dev_issuer import (
    ensure_keys,
    issue,
    jwks_file,
    published_key_ids,
    retire_signing_keys,
    rotate_signing_key,
)
from schemas.codes import Role
from services.plumbing.auth import AUDIENCE, DEV_ISSUER, JwksSource, TokenVerifier, Unauthenticated

NAV_OFFICE = uuid.UUID("66666666-7777-4888-9999-aaaaaaaaaaaa")


def token(directory: Path) -> str:
    return issue(directory, organisation=NAV_OFFICE, roles=[Role.COUNSELLOR])


def verifier(directory: Path, *, cache_s: float = 300.0) -> TokenVerifier:
    return TokenVerifier(
        JwksSource(str(jwks_file(directory)), cache_s=cache_s), issuer=DEV_ISSUER, audience=AUDIENCE
    )


def kid(signed: str) -> str:
    header = json.loads(base64.urlsafe_b64decode(signed.split(".")[0] + "=="))
    return str(header["kid"])


async def test_after_rotation_tokens_of_the_old_and_the_new_key_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_key = ensure_keys(tmp_path)
    before = token(tmp_path)
    running = verifier(tmp_path)  # a service that fetched the JWKS before the rotation
    await running.verify(before)

    new_kid = rotate_signing_key(tmp_path)
    after = token(tmp_path)

    assert kid(before) == old_key.kid
    assert kid(after) == new_kid != old_key.kid
    assert published_key_ids(tmp_path) == [new_kid, old_key.kid]
    # An unknown key id makes a service refetch the JWKS, at most once a minute.
    started = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: started + 61)
    assert (await running.verify(after)).organisation_id == NAV_OFFICE
    assert (await running.verify(before)).organisation_id == NAV_OFFICE


async def test_after_retirement_a_token_of_an_earlier_key_is_refused(tmp_path: Path) -> None:
    old_key = ensure_keys(tmp_path)
    before = token(tmp_path)
    new_kid = rotate_signing_key(tmp_path)
    after = token(tmp_path)

    assert retire_signing_keys(tmp_path) == [old_key.kid]

    assert published_key_ids(tmp_path) == [new_kid]
    refetching = verifier(tmp_path, cache_s=0)  # as a service whose cached JWKS went stale
    with pytest.raises(Unauthenticated, match="cannot be verified"):
        await refetching.verify(before)
    assert (await refetching.verify(after)).organisation_id == NAV_OFFICE
    assert retire_signing_keys(tmp_path) == []  # nothing more to retire


def test_the_private_key_stays_readable_by_its_owner_only(tmp_path: Path) -> None:
    rotate_signing_key(tmp_path)
    assert (tmp_path / "private-key.json").stat().st_mode & 0o077 == 0


def test_overgang_keys_rotates_and_retires_the_dev_issuers_signing_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OVERGANG_STACK_DIR", str(tmp_path))
    old_key = ensure_keys(tmp_path / "dev-issuer")

    assert cli.main(["keys", "rotate-signing-key", "--json"]) == 0
    rotated = json.loads(capsys.readouterr().out)
    assert rotated["published_key_ids"] == [rotated["signing_key_id"], old_key.kid]
    assert kid(token(tmp_path / "dev-issuer")) == rotated["signing_key_id"]

    assert cli.main(["keys", "retire-signing-keys"]) == 0
    assert capsys.readouterr().out == f"retired: {old_key.kid}\n"
    assert published_key_ids(tmp_path / "dev-issuer") == [rotated["signing_key_id"]]
