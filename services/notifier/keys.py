"""`overgang keys reseal`: the last step of a rotation of the notifier's secret key
(docs/operations.md, "Rotating keys"). With OVERGANG_SECRET_KEY set to the new key and the old
one in OVERGANG_RETIRED_SECRET_KEYS (in the services too), seal every webhook's signing secret
by the new key; then the old key can be removed everywhere. Reads the notifier service's
settings.

Exit codes: 0 every secret is sealed by the secret key; 1 some subscription's secret opens with
no configured key (their ids are listed: find the key, add it to OVERGANG_RETIRED_SECRET_KEYS
and run it again); 2 unusable settings, or the database cannot be reached."""

import functools
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from services.notifier.store.subscriptions import reseal_batch
from services.plumbing.key_rotation import Rotation, run_rotation


def reseal(
    *,
    database_url: str | None = None,
    batch: int = 500,
    progress: Callable[[Rotation], None] | None = None,
) -> tuple[int, dict[str, Any] | str]:
    """The exit code, and what was done (or, for exit code 2, one line saying why not)."""
    from services.notifier.app import MissingSecretKey, NotifierSettings

    try:
        settings = NotifierSettings()
        box = settings.secret_box()
    except (ValidationError, MissingSecretKey) as error:
        # hide_input_in_errors: the message names the setting, never its value.
        return 2, f"the notifier service's settings are not usable: {error}"
    return run_rotation(
        database_url or settings.database_url.get_secret_value(),
        functools.partial(reseal_batch, box=box),
        size=batch,
        progress=progress,
    )
