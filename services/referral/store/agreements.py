"""Cooperation agreements, one row per version. Routes, target groups and service levels are
kept as jsonb in the event contract's shape and read back through its models."""

import json

import asyncpg
from pydantic import TypeAdapter

from schemas.directory import (
    AgreementAmendedV1,
    AgreementRegisteredV1,
    LinkageLevel,
    Route,
    ServiceLevels,
    TargetGroup,
)
from schemas.ids import AgreementId, OrganisationId
from services.plumbing.database import Connection
from services.referral.domain.agreements import Agreement
from services.referral.domain.errors import StaleVersion
from services.referral.store.errors import NotFound
from services.referral.store.events import NewId, enqueue_all

AgreementVersion = AgreementRegisteredV1 | AgreementAmendedV1

_ROUTES = TypeAdapter(list[Route])
_TARGET_GROUPS = TypeAdapter(list[TargetGroup])


async def save(connection: Connection, change: AgreementVersion, *, new_id: NewId) -> None:
    """Store a new version (1 for a registration, the next one for an amendment) and enqueue
    its event. StaleVersion when the version is not the next one."""
    latest = await connection.fetchval(
        "SELECT max(version) FROM agreement_versions WHERE agreement_id = $1",
        change.agreement_id,
    )
    current = latest or 0
    expected = 0 if isinstance(change, AgreementRegisteredV1) else change.version - 1
    if current != expected or change.version != expected + 1:
        raise StaleVersion(expected=expected, actual=current)
    try:
        await connection.execute(
            """INSERT INTO agreement_versions (agreement_id, version, county_number,
                   valid_from, valid_until, parties,
                   linkage_level, lead_organisation_id, routes, target_groups, service_levels,
                   guardian_consent_below_age, recorded_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11::jsonb,
                        $12, $13)""",
            change.agreement_id,
            change.version,
            change.county_number,
            change.valid_from,
            change.valid_until,
            list(change.parties),
            change.linkage_level.value,
            change.lead_organisation_id,
            _ROUTES.dump_json(change.routes).decode(),
            _TARGET_GROUPS.dump_json(change.target_groups).decode(),
            change.service_levels.model_dump_json(),
            change.guardian_consent_below_age,
            change.occurred_at,
        )
    except asyncpg.UniqueViolationError as error:
        # Another transaction stored this version first.
        raise StaleVersion(expected=expected, actual=expected + 1) from error
    await enqueue_all(connection, [change], new_id=new_id, now=change.occurred_at)


async def get(
    connection: Connection, agreement_id: AgreementId, version: int | None = None
) -> Agreement:
    """One version of an agreement (the latest when none is named); NotFound otherwise."""
    row = await connection.fetchrow(
        """SELECT agreement_id, version, county_number, valid_from, valid_until, parties,
                   linkage_level, lead_organisation_id, routes, target_groups, service_levels,
                   guardian_consent_below_age
            FROM agreement_versions
            WHERE agreement_id = $1 AND ($2::integer IS NULL OR version = $2)
            ORDER BY version DESC LIMIT 1""",
        agreement_id,
        version,
    )
    if row is None:
        raise NotFound(f"no agreement {agreement_id} (version {version})")
    return _agreement(row)


async def latest_of_party(
    connection: Connection, organisation_id: OrganisationId
) -> list[Agreement]:
    """The latest version of every agreement the organisation signed: the candidates for a
    route from or to it."""
    rows = await connection.fetch(
        """SELECT DISTINCT ON (agreement_id) agreement_id, version, county_number,
                   valid_from, valid_until, parties,
                   linkage_level, lead_organisation_id, routes, target_groups, service_levels,
                   guardian_consent_below_age
            FROM agreement_versions
            WHERE parties @> ARRAY[$1::uuid]
            ORDER BY agreement_id, version DESC""",
        organisation_id,
    )
    return [_agreement(row) for row in rows]


def _agreement(row: asyncpg.Record) -> Agreement:
    return Agreement(
        agreement_id=AgreementId(row["agreement_id"]),
        version=row["version"],
        county_number=row["county_number"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        parties=frozenset(OrganisationId(party) for party in row["parties"]),
        linkage_level=LinkageLevel(row["linkage_level"]),
        routes=tuple(_ROUTES.validate_json(row["routes"])),
        target_groups=tuple(_TARGET_GROUPS.validate_json(row["target_groups"])),
        service_levels=ServiceLevels.model_validate(json.loads(row["service_levels"])),
        guardian_consent_below_age=row["guardian_consent_below_age"],
        lead_organisation_id=(
            None
            if row["lead_organisation_id"] is None
            else OrganisationId(row["lead_organisation_id"])
        ),
    )
