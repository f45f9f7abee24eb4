"""`overgang import organisations|agreements FILE.csv`: a directory from a spreadsheet.

Every row is checked by the referral API's own input models first, and every bad row is
reported with its line number. Then the rows go through the referral service's use cases
(its domain rules, its directory events into its outbox) in ONE database transaction, each
row in a savepoint so that every refused row is reported too: if any row is bad, nothing of
the file is imported."""

import asyncio
import csv
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import asyncpg
import typer
from pydantic import BaseModel, ValidationError

from deploy.local.cli.common import (
    DatabaseOption,
    Failed,
    JsonOption,
    config,
    database_url,
    err,
    print_json,
)
from schemas.codes import Role
from schemas.ids import ActorId, OrganisationId
from services.plumbing.auth import Principal
from services.plumbing.database import Connection
from services.referral.api.agreements import AgreementCreate
from services.referral.api.organisations import OrganisationCreate
from services.referral.store.errors import StoreError
from services.referral.usecases.agreements import register_agreement
from services.referral.usecases.errors import UseCaseError
from services.referral.usecases.organisations import register_organisation

import_app = typer.Typer(
    help="Import a directory from CSV: all of a file, or nothing of it.", no_args_is_help=True
)

Row = TypeVar("Row", bound=BaseModel)

# The columns of each file; cells that hold a list are space-separated, and an agreement's
# routes and target groups are JSON (as in the API), e.g. copied from `overgang` output.
ORGANISATION_COLUMNS = (
    "name",
    "type",
    "sector",
    "organisation_number",
    "county_number",
    "municipality_numbers",
)
SERVICE_LEVELS = (
    "acknowledge_within_working_days",
    "decide_within_working_days",
    "first_contact_within_working_days",
    "follow_up_every_days",
)
AGREEMENT_COLUMNS = (
    "county_number",
    "valid_from",
    "valid_until",
    "parties",
    "linkage_level",
    "lead_organisation_id",
    "routes",
    "target_groups",
    "guardian_consent_below_age",
    *SERVICE_LEVELS,
)


@dataclass(frozen=True)
class Problem:
    line: int
    what: str


class NotImported(Exception):
    """Raised inside the transaction to roll it back: rows were refused."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems


FileArgument = Annotated[
    Path,
    typer.Argument(
        exists=True, dir_okay=False, readable=True, metavar="FILE.csv", help="a CSV file, UTF-8"
    ),
]
AsOrganisation = Annotated[
    uuid.UUID | None,
    typer.Option(
        "--as-org",
        help="the administrator's organisation, recorded as the actor's (for agreements, "
        "default: each agreement's first party)",
    ),
]
Actor = Annotated[
    uuid.UUID | None,
    typer.Option("--actor", help="the administrator's actor id (default: a new one, printed)"),
]


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, cells) for each row; empty cells are left out, so defaults apply."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        header = reader.fieldnames or []
        unknown = [name for name in header if name not in columns]
        if unknown or not header:
            raise Failed(
                f"{path}: the header must name the columns {', '.join(columns)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        # A column left out is a cell left empty everywhere: the model says if it must be.
        for cells in reader:
            extra = cells.pop(None, None)
            if extra:
                raise Failed(f"{path}, line {reader.line_num}: more cells than columns")
            yield reader.line_num, {k: v.strip() for k, v in cells.items() if v and v.strip()}


def _errors(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or 'row'}: {e['msg']}" for e in error.errors()
    )


def _checked(
    path: Path, columns: tuple[str, ...], model: type[Row], shaped: Callable[[dict[str, str]], Any]
) -> tuple[list[tuple[int, Row]], list[Problem]]:
    good: list[tuple[int, Row]] = []
    problems: list[Problem] = []
    for line, cells in _rows(path, columns):
        try:
            good.append((line, model.model_validate(shaped(cells))))
        except ValidationError as error:
            problems.append(Problem(line, _errors(error)))
        except ValueError as error:  # a JSON cell that is not JSON
            problems.append(Problem(line, str(error)))
    return good, problems


def _organisation(cells: dict[str, str]) -> dict[str, Any]:
    shaped: dict[str, Any] = dict(cells)
    if "municipality_numbers" in shaped:
        shaped["municipality_numbers"] = shaped["municipality_numbers"].split()
    return shaped


def _agreement(cells: dict[str, str]) -> dict[str, Any]:
    shaped: dict[str, Any] = {k: v for k, v in cells.items() if k not in SERVICE_LEVELS}
    if "parties" in shaped:
        shaped["parties"] = shaped["parties"].split()
    for name in ("routes", "target_groups"):
        if name in shaped:
            try:
                shaped[name] = json.loads(shaped[name])
            except json.JSONDecodeError as error:
                raise ValueError(f"{name}: not JSON ({error.msg})") from None
    levels = {k: v for k, v in cells.items() if k in SERVICE_LEVELS}
    if levels:
        shaped["service_levels"] = levels
    return shaped


async def _import_all(
    url: str, rows: list[tuple[int, Row]], act: Callable[[Connection, Row], Awaitable[str]]
) -> list[str]:
    """Each row through `act` in one transaction, each in a savepoint; rolled back whole
    (NotImported) when any row is refused."""
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            done: list[str] = []
            problems: list[Problem] = []
            for line, row in rows:
                try:
                    async with connection.transaction():
                        done.append(await act(connection, row))
                except (UseCaseError, StoreError, ValueError) as error:
                    problems.append(Problem(line, str(error) or type(error).__name__))
            if problems:
                raise NotImported(problems)
            return done
    finally:
        await connection.close()


def _run(
    path: Path,
    url: Callable[[], str],
    rows: list[tuple[int, Row]],
    problems: list[Problem],
    act: Callable[[Connection, Row], Awaitable[str]],
    json_: bool,
    what: str,
    actor: uuid.UUID,
) -> None:
    if not problems:
        try:
            ids = asyncio.run(_import_all(url(), rows, act))
        except NotImported as refused:
            problems = refused.problems
        except (OSError, asyncpg.PostgresError) as error:
            raise Failed(f"the referral database cannot be written ({error})") from None
    if problems:
        if json_:
            print_json(
                {"imported": 0, "problems": [{"line": p.line, "problem": p.what} for p in problems]}
            )
        for p in problems:
            err.print(f"{path}:{p.line}: {p.what}", markup=False)
        raise Failed(f"nothing of {path} was imported: {len(problems)} bad row(s)")
    if json_:
        print_json({"imported": len(ids), f"{what}_ids": ids, "actor_id": str(actor)})
    else:
        print(f"imported {len(ids)} {what}s from {path}, as actor {actor}")
        for id_ in ids:
            print(f"  {id_}")


def _referral_database(given: str | None) -> Callable[[], str]:
    # Asked for only when every row is good: a bad file is reported without a database.
    return lambda: database_url(given, config(), "referral")


def _principal(organisation: uuid.UUID, actor: uuid.UUID) -> Principal:
    return Principal(
        actor_id=ActorId(actor),
        organisation_id=OrganisationId(organisation),
        roles=frozenset({Role.ADMIN}),
    )


@import_app.command()
def organisations(
    file: FileArgument,
    as_org: Annotated[
        uuid.UUID,
        typer.Option("--as-org", help="the administrator's organisation, recorded as the actor's"),
    ],
    actor: Actor = None,
    database_url_: DatabaseOption = None,
    json_: JsonOption = False,
) -> None:
    """Register the organisations of FILE.csv (columns: name, type, sector,
    organisation_number, county_number, municipality_numbers space-separated)."""
    rows, problems = _checked(file, ORGANISATION_COLUMNS, OrganisationCreate, _organisation)
    acting = actor or uuid.uuid4()
    principal = _principal(as_org, acting)

    async def act(connection: Connection, row: OrganisationCreate) -> str:
        entry = await register_organisation(connection, row.details(), principal)
        return str(entry.organisation_id)

    url = _referral_database(database_url_)
    _run(file, url, rows, problems, act, json_, "organisation", acting)


@import_app.command()
def agreements(
    file: FileArgument,
    as_org: AsOrganisation = None,
    actor: Actor = None,
    database_url_: DatabaseOption = None,
    json_: JsonOption = False,
) -> None:
    """Record the agreements of FILE.csv (columns: county_number, valid_from, valid_until,
    parties space-separated, linkage_level, lead_organisation_id, routes and target_groups
    as JSON, guardian_consent_below_age, and the four service levels)."""
    rows, problems = _checked(file, AGREEMENT_COLUMNS, AgreementCreate, _agreement)
    acting = actor or uuid.uuid4()

    async def act(connection: Connection, row: AgreementCreate) -> str:
        principal = _principal(as_org or row.parties[0], acting)
        agreement = await register_agreement(connection, row.terms(), principal)
        return str(agreement.agreement_id)

    url = _referral_database(database_url_)
    _run(file, url, rows, problems, act, json_, "agreement", acting)
