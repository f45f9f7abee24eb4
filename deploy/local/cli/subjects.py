"""`overgang subjects export SUBJECT_ID`: everything held about a person (their right of
access), through the referral service's API, which records the export as an access."""

import json
import uuid
from pathlib import Path
from typing import Annotated

import httpx
import typer

from deploy.local.cli.common import Failed, bearer, config, err, problem_of, service_url
from schemas.codes import Role

subjects_app = typer.Typer(help="The people Overgang holds data about.", no_args_is_help=True)


@subjects_app.command()
def export(
    subject: Annotated[uuid.UUID, typer.Argument(metavar="SUBJECT_ID", help="the person")],
    org: Annotated[
        uuid.UUID,
        typer.Option(
            "--org", help="the organisation answering the request (one that dealt with them)"
        ),
    ],
    role: Annotated[
        Role, typer.Option("--role", help="admin or coordinator of that organisation")
    ] = Role.COORDINATOR,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here (default: stdout)")
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="the referral service (default: the local stack's)")
    ] = None,
) -> None:
    """The person's data export as JSON (it holds their identity number and name: keep it
    where personal data may be)."""
    found = config()
    base = service_url(url, found, "referral")
    try:
        answer = httpx.get(
            f"{base}/v1/subjects/{subject}/export", headers=bearer(found, org, role), timeout=60
        )
    except httpx.HTTPError as error:
        raise Failed(f"the referral service at {base} did not answer: {error}") from None
    if not answer.is_success:
        raise Failed(f"the referral service refused the export: {problem_of(answer)}")
    text = json.dumps(answer.json(), indent=2, ensure_ascii=False)
    if output is None:
        print(text)
        return
    output.touch(mode=0o600)  # personal data: readable by us alone
    output.write_text(text + "\n", encoding="utf-8")
    err.print(f"wrote the export of {subject} to {output}", markup=False)
