"""`overgang keys rewrap|reseal|rotate-signing-key|retire-signing-keys`: key rotation, as
docs/operations.md ("Rotating keys") tells it step by step."""

import contextlib
from collections.abc import Callable, Iterator
from typing import Annotated

import typer

from deploy.local import dev_issuer
from deploy.local.cli.common import DatabaseOption, Failed, JsonOption, config, err, print_json
from services.notifier import keys as notifier_keys
from services.plumbing.key_rotation import Rotation, RotationFailed
from services.referral import keys as referral_keys

keys_app = typer.Typer(
    help="Rotate keys. rewrap/reseal exit 0 when every row is under the new key, 1 when some "
    "row opens with no configured key (listed) or the rotation could not run.",
    no_args_is_help=True,
)

BatchOption = Annotated[
    int, typer.Option("--batch", min=1, max=10_000, help="rows per transaction")
]


@contextlib.contextmanager
def _progress(what: str) -> Iterator[Callable[[Rotation], None] | None]:
    """A status line on stderr while rows are rotated; none when stderr is not a terminal."""
    if not err.is_terminal:
        yield None
        return
    with err.status(f"{what}: starting") as status:
        yield lambda done: status.update(f"{what}: {done.checked} looked at, {done.resealed} done")


def _finish(done: Rotation, what: str) -> None:
    print_json(done.outcome())
    if not done.complete:
        err.print(
            f"overgang: {len(done.unopened)} {what} open with no configured key (listed above)"
        )
        raise typer.Exit(1)


@keys_app.command()
def rewrap(database_url: DatabaseOption = None, batch: BatchOption = 500) -> None:
    """Wrap every person's data key by the referral service's master key
    (OVERGANG_MASTER_KEY), opening it with a retired one (OVERGANG_RETIRED_MASTER_KEYS)."""
    with _progress("rewrapping") as progress:
        try:
            done = referral_keys.rewrap(database_url=database_url, batch=batch, progress=progress)
        except RotationFailed as error:
            raise Failed(str(error)) from None
    _finish(done, "persons' keys")


@keys_app.command()
def reseal(database_url: DatabaseOption = None, batch: BatchOption = 500) -> None:
    """Seal every webhook signing secret by the notifier's secret key (OVERGANG_SECRET_KEY),
    opening it with a retired one (OVERGANG_RETIRED_SECRET_KEYS)."""
    with _progress("resealing") as progress:
        try:
            done = notifier_keys.reseal(database_url=database_url, batch=batch, progress=progress)
        except RotationFailed as error:
            raise Failed(str(error)) from None
    _finish(done, "signing secrets")


@keys_app.command("rotate-signing-key")
def rotate_signing_key(json_: JsonOption = False) -> None:
    """The local dev issuer signs tokens with a new key from now on, and publishes it beside
    the old ones: tokens signed before still verify until `retire-signing-keys`."""
    directory = config().dev_issuer_dir
    signing = dev_issuer.rotate_signing_key(directory)
    published = dev_issuer.published_key_ids(directory)
    if json_:
        print_json({"signing_key_id": signing, "published_key_ids": published})
    else:
        print(f"signing with {signing}; published: {', '.join(published)}")


@keys_app.command("retire-signing-keys")
def retire_signing_keys(json_: JsonOption = False) -> None:
    """The local dev issuer publishes its signing key alone: tokens of the earlier keys are
    refused once the services fetch its keys again (within five minutes)."""
    retired = dev_issuer.retire_signing_keys(config().dev_issuer_dir)
    if json_:
        print_json({"retired_key_ids": retired})
    else:
        print(f"retired: {', '.join(retired) or 'none'}")
