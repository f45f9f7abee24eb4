"""The directory as the audit service knows it from the directory events: each organisation's
county and type, each agreement's latest version, and the service levels of every version. An
older event arriving late never overwrites a newer one."""

import json

from schemas.directory import (
    AgreementAmendedV1,
    AgreementRegisteredV1,
    AgreementTerminatedV1,
    OrganisationRegisteredV1,
    OrganisationUpdatedV1,
    ServiceLevels,
)
from schemas.ids import AgreementId, OrganisationId
from services.plumbing.database import Connection


async def save_organisation(
    connection: Connection, data: OrganisationRegisteredV1 | OrganisationUpdatedV1
) -> None:
    await connection.execute(
        """INSERT INTO directory_organisations (organisation_id, type, county_number, occurred_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (organisation_id) DO UPDATE
               SET type = EXCLUDED.type, county_number = EXCLUDED.county_number,
                   occurred_at = EXCLUDED.occurred_at
               WHERE directory_organisations.occurred_at <= EXCLUDED.occurred_at""",
        data.organisation_id,
        data.type.value,
        data.county_number,
        data.occurred_at,
    )


async def save_agreement(
    connection: Connection, data: AgreementRegisteredV1 | AgreementAmendedV1
) -> None:
    await connection.execute(
        """INSERT INTO directory_agreements (agreement_id, version, county_number, parties,
               valid_from, valid_until, service_levels, occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
           ON CONFLICT (agreement_id) DO UPDATE
               SET version = EXCLUDED.version, county_number = EXCLUDED.county_number,
                   parties = EXCLUDED.parties, valid_from = EXCLUDED.valid_from,
                   valid_until = EXCLUDED.valid_until, service_levels = EXCLUDED.service_levels,
                   occurred_at = EXCLUDED.occurred_at
               WHERE directory_agreements.version < EXCLUDED.version""",
        data.agreement_id,
        data.version,
        data.county_number,
        list(data.parties),
        data.valid_from,
        data.valid_until,
        json.dumps(data.service_levels.model_dump(mode="json")),
        data.occurred_at,
    )
    # Every version's service levels: a referral stays under the version it was filed under.
    await connection.execute(
        """INSERT INTO directory_agreement_versions (agreement_id, version, service_levels)
           VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (agreement_id, version) DO NOTHING""",
        data.agreement_id,
        data.version,
        json.dumps(data.service_levels.model_dump(mode="json")),
    )


async def service_levels_of(
    connection: Connection, agreement_id: AgreementId, version: int
) -> ServiceLevels | None:
    """The service levels of one version of an agreement, or None when not known (yet)."""
    found: str | None = await connection.fetchval(
        """SELECT service_levels::text FROM directory_agreement_versions
           WHERE agreement_id = $1 AND version = $2""",
        agreement_id,
        version,
    )
    return None if found is None else ServiceLevels.model_validate_json(found)


async def terminate_agreement(connection: Connection, data: AgreementTerminatedV1) -> None:
    """Record the end; an agreement heard of only through its termination is left unknown."""
    await connection.execute(
        "UPDATE directory_agreements SET ends_on = $2 WHERE agreement_id = $1",
        data.agreement_id,
        data.ends_on,
    )


async def county_of(connection: Connection, organisation_id: OrganisationId) -> str | None:
    """The county an organisation belongs to, or None when the directory does not know it."""
    county: str | None = await connection.fetchval(
        "SELECT county_number FROM directory_organisations WHERE organisation_id = $1",
        organisation_id,
    )
    return county
