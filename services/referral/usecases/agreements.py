"""Cooperation agreements: register (version 1), read and list. Each change is its directory
event, saved with the version and written to the outbox in one transaction."""

import datetime as dt
from dataclasses import dataclass

from schemas.codes import Purpose, Role
from schemas.directory import AgreementRegisteredV1, LinkageLevel, Route, ServiceLevels, TargetGroup
from schemas.ids import AgreementId, OrganisationId
from services.plumbing.auth import Principal
from services.plumbing.database import Connection
from services.plumbing.working_days import oslo_date
from services.referral.domain.agreements import Agreement, recipients
from services.referral.store import agreements as store
from services.referral.store import organisations
from services.referral.usecases.acting import Clock, actor_of, new_id, now
from services.referral.usecases.errors import NotPermitted, UnknownOrganisations

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class AgreementTerms:
    """What the parties agreed, as an administrator records it."""

    county_number: str
    valid_from: dt.date
    valid_until: dt.date | None
    parties: list[OrganisationId]
    linkage_level: LinkageLevel
    lead_organisation_id: OrganisationId | None
    routes: list[Route]
    target_groups: list[TargetGroup]
    guardian_consent_below_age: int
    service_levels: ServiceLevels


@dataclass(frozen=True)
class AgreementPage:
    agreements: list[Agreement]
    next_after: AgreementId | None


async def register_agreement(
    connection: Connection, terms: AgreementTerms, principal: Principal, *, clock: Clock = now
) -> Agreement:
    """Record a new agreement (AgreementRegisteredV1); an administrator of a party may."""
    if principal.organisation_id not in terms.parties:
        raise NotPermitted("only an administrator of a party may record an agreement")
    agreement_id = AgreementId(new_id())
    event = AgreementRegisteredV1(
        agreement_id=agreement_id,
        version=1,
        actor=actor_of(principal, Role.ADMIN),
        occurred_at=clock(),
        **vars(terms),
    )
    async with connection.transaction():
        unknown = (
            set(terms.parties) - (await organisations.get_many(connection, terms.parties)).keys()
        )
        if unknown:
            raise UnknownOrganisations("parties", unknown)
        await store.save(connection, event, new_id=new_id)
    return Agreement.from_event(event)


async def get_agreement(connection: Connection, agreement_id: AgreementId) -> Agreement:
    """The latest version of an agreement; NotFound when there is none."""
    return await store.get(connection, agreement_id)


async def list_agreements(
    connection: Connection,
    organisation_id: OrganisationId,
    *,
    after: AgreementId | None,
    limit: int,
) -> AgreementPage:
    """The latest versions of the agreements an organisation signed, by agreement id.

    An organisation signs a handful of agreements, so the page is cut from all of them."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"a page has 1 to {MAX_PAGE_SIZE} agreements")
    signed = sorted(
        await store.latest_of_party(connection, organisation_id),
        key=lambda agreement: str(agreement.agreement_id),
    )
    rest = [a for a in signed if after is None or str(a.agreement_id) > str(after)]
    page = rest[:limit]
    return AgreementPage(page, page[-1].agreement_id if len(rest) > limit else None)


async def recipients_of(
    connection: Connection, organisation_id: OrganisationId
) -> dict[OrganisationId, set[Purpose]]:
    """Whom the organisation may refer to today (the Norwegian calendar day, as a filing is
    checked), and for which purposes; empty when it is not in the directory."""
    signed = await store.latest_of_party(connection, organisation_id)
    parties = await organisations.get_many(
        connection, {party for agreement in signed for party in agreement.parties}
    )
    sender = parties.get(organisation_id)
    if sender is None:
        return {}
    return recipients(signed, sender=sender, parties=parties, on=oslo_date(now()))
