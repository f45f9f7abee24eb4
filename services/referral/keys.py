"""`overgang keys rewrap`: the last step of a master key rotation (docs/operations.md, "Rotating
keys"). With OVERGANG_MASTER_KEY set to the new key and the old one in
OVERGANG_RETIRED_MASTER_KEYS (in the services too), wrap every person's data key by the new key;
then the old key can be removed everywhere. Reads the referral service's settings.

Exit codes: 0 every data key is wrapped by the master key; 1 some person's key opens with no
configured key (their subject_ids are listed: find the key that wrapped them, add it to
OVERGANG_RETIRED_MASTER_KEYS and run it again); 2 unusable settings, or the database cannot be
reached."""

import functools
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from services.plumbing.key_rotation import Rotation, run_rotation
from services.referral.store.subjects import rewrap_batch


def rewrap(
    *,
    database_url: str | None = None,
    batch: int = 500,
    progress: Callable[[Rotation], None] | None = None,
) -> tuple[int, dict[str, Any] | str]:
    """The exit code, and what was done (or, for exit code 2, one line saying why not)."""
    from services.referral.app import MissingStoreKeys, ReferralSettings

    try:
        settings = ReferralSettings()
        keys = settings.store_keys()
    except (ValidationError, MissingStoreKeys) as error:
        # hide_input_in_errors: the message names the setting, never its value.
        return 2, f"the referral service's settings are not usable: {error}"
    return run_rotation(
        database_url or settings.database_url.get_secret_value(),
        functools.partial(rewrap_batch, keys=keys),
        size=batch,
        progress=progress,
    )
