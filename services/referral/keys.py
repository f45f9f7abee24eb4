"""`overgang keys rewrap`: the last step of a master key rotation (docs/operations.md, "Rotating
keys"). With OVERGANG_MASTER_KEY set to the new key and the old one in
OVERGANG_RETIRED_MASTER_KEYS (in the services too), wrap every person's data key by the new key;
then the old key can be removed everywhere. Reads the referral service's settings. The rotation
is complete when no person's key is left that no configured key opens (those are listed: find
the key that wrapped them, add it to OVERGANG_RETIRED_MASTER_KEYS and run it again)."""

from collections.abc import Callable

from services.plumbing.key_rotation import Batch, Rotation, rotate_with_settings
from services.referral.store.subjects import rewrap_batch


def rewrap(
    *,
    database_url: str | None = None,
    batch: int = 500,
    progress: Callable[[Rotation], None] | None = None,
) -> Rotation:
    """What was done; RotationFailed when the settings are not usable or the database cannot
    be reached."""

    def load() -> tuple[str, Batch]:
        from services.referral.app import ReferralSettings

        settings = ReferralSettings()
        return settings.database_url.get_secret_value(), rewrap_batch(settings.store_keys())

    return rotate_with_settings(
        "referral", load, database_url=database_url, size=batch, progress=progress
    )
