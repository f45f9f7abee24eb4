"""`overgang keys reseal`: the last step of a rotation of the notifier's secret key
(docs/operations.md, "Rotating keys"). With OVERGANG_SECRET_KEY set to the new key and the old
one in OVERGANG_RETIRED_SECRET_KEYS (in the services too), seal every webhook's signing secret
by the new key; then the old key can be removed everywhere. Reads the notifier service's
settings. The rotation is complete when no secret is left that no configured key opens (those
subscriptions are listed: find the key, add it to OVERGANG_RETIRED_SECRET_KEYS and run it
again)."""

import functools
from collections.abc import Callable

from pydantic import ValidationError

from services.notifier.store.subscriptions import reseal_batch
from services.plumbing.key_rotation import Rotation, RotationFailed, run_rotation


def reseal(
    *,
    database_url: str | None = None,
    batch: int = 500,
    progress: Callable[[Rotation], None] | None = None,
) -> Rotation:
    """What was done; RotationFailed when the settings are not usable or the database cannot
    be reached."""
    from services.notifier.app import MissingSecretKey, NotifierSettings

    try:
        settings = NotifierSettings()
        box = settings.secret_box()
    except (ValidationError, MissingSecretKey) as error:
        # hide_input_in_errors: the message names the setting, never its value.
        raise RotationFailed(f"the notifier service's settings are not usable: {error}") from None
    return run_rotation(
        database_url or settings.database_url.get_secret_value(),
        functools.partial(reseal_batch, box=box),
        size=batch,
        progress=progress,
    )
