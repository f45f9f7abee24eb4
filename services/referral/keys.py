"""`python -m services.referral.keys rewrap` (or `overgang keys rewrap`): the last step of a
master key rotation. With OVERGANG_MASTER_KEY set to the new key and the old one in
OVERGANG_RETIRED_MASTER_KEYS (in the services too), wrap every person's data key by the new
key; then the old key can be removed everywhere. Reads the referral service's settings.

Prints what it did as JSON. Exit codes: 0 every data key is wrapped by the master key; 1 some
person's key opens with no configured key (their subject_ids are listed: find the key that
wrapped them, add it to OVERGANG_RETIRED_MASTER_KEYS and run it again); 2 bad usage, the keys
are not set or the database cannot be reached."""

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from pydantic import ValidationError

from services.referral.crypto import StoreKeys
from services.referral.usecases.keys import Rewrapping, rewrap_data_keys


def outcome(done: Rewrapping) -> dict[str, Any]:
    return {
        "complete": done.complete,
        "checked": done.checked,
        "rewrapped": done.rewrapped,
        "unopened": [str(subject_id) for subject_id in done.unopened],
    }


async def _rewrap(
    database_url: str, keys: StoreKeys, batch: int, progress: Callable[[Rewrapping], None] | None
) -> Rewrapping:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        return await rewrap_data_keys(pool, keys, batch=batch, progress=progress)
    finally:
        await pool.close()


def rewrap(
    *,
    database_url: str | None = None,
    batch: int = 500,
    progress: Callable[[Rewrapping], None] | None = None,
) -> tuple[int, dict[str, Any] | str]:
    """The exit code, and what was done (or, for exit code 2, one line saying why not)."""
    from services.referral.app import MissingStoreKeys, ReferralSettings

    try:
        settings = ReferralSettings()
        keys = settings.store_keys()
    except (ValidationError, MissingStoreKeys) as error:
        # hide_input_in_errors: the message names the setting, never its value.
        return 2, f"the referral service's settings are not usable: {error}"
    url = database_url or settings.database_url.get_secret_value()
    try:
        done = asyncio.run(_rewrap(url, keys, batch, progress))
    except (OSError, asyncpg.PostgresError) as error:
        return 2, f"the referral database cannot be reached ({type(error).__name__})"
    return (0 if done.complete else 1), outcome(done)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.referral.keys", description=__doc__)
    actions = parser.add_subparsers(dest="action", required=True)
    rewrapping = actions.add_parser("rewrap", help="wrap every data key by the master key")
    rewrapping.add_argument("--database-url", help="instead of the referral service's settings")
    rewrapping.add_argument("--batch", type=int, default=500, help="persons per transaction")
    arguments = parser.parse_args(argv)
    code, said = rewrap(database_url=arguments.database_url, batch=arguments.batch)
    if isinstance(said, str):
        print(f"keys rewrap: {said}", file=sys.stderr)
    else:
        print(json.dumps(said))
    return code


if __name__ == "__main__":
    sys.exit(main())
