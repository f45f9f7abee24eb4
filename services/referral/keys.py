"""`overgang keys rewrap`: the last step of a master key rotation (docs/operations.md, "Rotating
keys"). With OVERGANG_MASTER_KEY set to the new key and the old one in
OVERGANG_RETIRED_MASTER_KEYS (in the services too), wrap every person's data key by the new key;
then the old key can be removed everywhere. Reads the referral service's settings. The rotation
is complete when no person's key is left that no configured key opens (those are listed: find
the key that wrapped them, add it to OVERGANG_RETIRED_MASTER_KEYS and run it again)."""

import functools
from collections.abc import Callable

from pydantic import ValidationError

from services.plumbing.key_rotation import Rotation, RotationFailed, run_rotation
from services.referral.store.subjects import rewrap_batch


def rewrap(
    *,
    database_url: str | None = None,
    batch: int = 500,
    progress: Callable[[Rotation], None] | None = None,
) -> Rotation:
    """What was done; RotationFailed when the settings are not usable or the database cannot
    be reached."""
    from services.referral.app import MissingStoreKeys, ReferralSettings

    try:
        settings = ReferralSettings()
        keys = settings.store_keys()
    except (ValidationError, MissingStoreKeys) as error:
        # hide_input_in_errors: the message names the setting, never its value.
        raise RotationFailed(f"the referral service's settings are not usable: {error}") from None
    return run_rotation(
        database_url or settings.database_url.get_secret_value(),
        functools.partial(rewrap_batch, keys=keys),
        size=batch,
        progress=progress,
    )
