"""`overgang keys reseal`: the last step of a rotation of the notifier's secret key
(docs/operations.md, "Rotating keys"). With OVERGANG_SECRET_KEY set to the new key and the old
one in OVERGANG_RETIRED_SECRET_KEYS (in the services too), seal every webhook's signing secret
by the new key; then the old key can be removed everywhere. Reads the notifier service's
settings. The rotation is complete when no secret is left that no configured key opens (those
subscriptions are listed: find the key, add it to OVERGANG_RETIRED_SECRET_KEYS and run it
again)."""

from collections.abc import Callable

from services.notifier.store.subscriptions import reseal_secrets
from services.plumbing.key_rotation import Batch, Rotation, rotate_with_settings


def reseal(
    *,
    database_url: str | None = None,
    batch: int = 500,
    progress: Callable[[Rotation], None] | None = None,
) -> Rotation:
    """What was done; RotationFailed when the settings are not usable or the database cannot
    be reached."""

    def load() -> tuple[str, Batch]:
        from services.notifier.app import NotifierSettings

        settings = NotifierSettings()
        return settings.database_url.get_secret_value(), reseal_secrets(settings.secret_box())

    return rotate_with_settings(
        "notifier", load, database_url=database_url, size=batch, progress=progress
    )
