"""County cooperation agreements, and the route a referral needs in one of them.

An agreement allows a referral when it is in force on the day (Norwegian calendar day of the
filing or redirection), its linkage level is `cooperation` or `coordination` (`communication`
is information only), one of its routes leads from the sender to the receiver with the
referral's purpose, and one of its target groups covers the person's age and situation. Only
the latest version of each agreement counts: an amendment replaces the whole agreement."""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from schemas.codes import Purpose
from schemas.directory import (
    AgreementAmendedV1,
    AgreementRegisteredV1,
    AgreementTerminatedV1,
    AnOrganisation,
    LinkageLevel,
    OrganisationsOfType,
    Route,
    ServiceLevels,
    Situation,
    TargetGroup,
)
from schemas.ids import AgreementId, CountyNumber, OrganisationId
from services.referral.domain.errors import NoAgreementRoute, RouteRefusal, RouteRefusalCode
from services.referral.domain.organisations import Organisation

DEFAULT_GUARDIAN_CONSENT_BELOW_AGE = 18


@dataclass(frozen=True)
class Agreement:
    """One version of a county cooperation agreement (samarbeidsavtale)."""

    agreement_id: AgreementId
    version: int
    county_number: CountyNumber
    valid_from: dt.date
    valid_until: dt.date | None
    parties: frozenset[OrganisationId]
    linkage_level: LinkageLevel
    routes: tuple[Route, ...]
    target_groups: tuple[TargetGroup, ...]
    service_levels: ServiceLevels
    guardian_consent_below_age: int = DEFAULT_GUARDIAN_CONSENT_BELOW_AGE
    lead_organisation_id: OrganisationId | None = None

    @classmethod
    def from_event(cls, event: AgreementRegisteredV1 | AgreementAmendedV1) -> "Agreement":
        """The agreement as a directory event carries it."""
        return cls(
            agreement_id=event.agreement_id,
            version=event.version,
            county_number=event.county_number,
            valid_from=event.valid_from,
            valid_until=event.valid_until,
            parties=frozenset(event.parties),
            linkage_level=event.linkage_level,
            routes=tuple(event.routes),
            target_groups=tuple(event.target_groups),
            service_levels=event.service_levels,
            guardian_consent_below_age=event.guardian_consent_below_age,
            lead_organisation_id=event.lead_organisation_id,
        )

    def terminated(self, event: AgreementTerminatedV1) -> "Agreement":
        """The agreement ending on the termination's last day (or its own, if earlier)."""
        if event.agreement_id != self.agreement_id:
            raise ValueError("the termination is of another agreement")
        ends_on = event.ends_on
        if self.valid_until is not None:
            ends_on = min(ends_on, self.valid_until)
        return replace(self, valid_until=ends_on)

    def in_force_on(self, day: dt.date) -> bool:
        """Whether the agreement applies on a day."""
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def allows_referrals(self) -> bool:
        """Communication-level agreements share information only; the others allow referrals."""
        return self.linkage_level is not LinkageLevel.COMMUNICATION

    def routes_between(self, sender: Organisation, receiver: Organisation) -> list[Route]:
        """The routes from the sender to the receiver."""
        return [
            route
            for route in self.routes
            if self._is_at(route.from_organisation, sender)
            and self._is_at(route.to_organisation, receiver)
        ]

    def _is_at(self, end: AnOrganisation | OrganisationsOfType, organisation: Organisation) -> bool:
        if isinstance(end, AnOrganisation):
            return end.organisation_id == organisation.organisation_id
        # "Every party of the agreement of one type": an organisation that did not sign it is
        # not on the route, whatever its type.
        return (
            end.organisation_type is organisation.type
            and organisation.organisation_id in self.parties
        )


@dataclass(frozen=True)
class RouteMatch:
    """The agreement and the route in it that allow a referral."""

    agreement: Agreement
    route: Route


def find_route(
    agreements: Iterable[Agreement],
    *,
    sender: Organisation,
    receiver: Organisation,
    purpose: Purpose,
    age: int,
    situation: Situation,
    on: dt.date,
) -> RouteMatch:
    """The agreement route that allows this referral, or NoAgreementRoute saying why none does.

    When several agreements allow it, the one that took effect last wins (then the higher
    version, then the agreement id, so that the choice never depends on the order given)."""
    if sender.organisation_id == receiver.organisation_id:
        raise NoAgreementRoute(
            (
                RouteRefusal(
                    RouteRefusalCode.SAME_ORGANISATION,
                    "an organisation cannot refer a person to itself",
                ),
            )
        )
    latest = _latest_versions(agreements)
    if not latest:
        raise NoAgreementRoute(
            (RouteRefusal(RouteRefusalCode.NO_AGREEMENT, "there is no agreement to refer under"),)
        )
    matches: list[RouteMatch] = []
    refusals: list[RouteRefusal] = []
    for agreement in latest:
        result = _try(agreement, sender, receiver, purpose, age, situation, on)
        if isinstance(result, RouteMatch):
            matches.append(result)
        else:
            refusals.append(result)
    if not matches:
        raise NoAgreementRoute(tuple(refusals))
    return max(
        matches,
        key=lambda match: (
            match.agreement.valid_from,
            match.agreement.version,
            str(match.agreement.agreement_id),
        ),
    )


def recipients(
    agreements: Iterable[Agreement],
    *,
    sender: Organisation,
    parties: Mapping[OrganisationId, Organisation],
    on: dt.date,
) -> dict[OrganisationId, set[Purpose]]:
    """Whom the sender may refer to on a day, and for which purposes, under the latest version
    of each agreement in force that allows referrals (`parties`: the agreements' parties).
    The person's age and situation, which the target groups weigh, are not known here: the
    filing itself checks them (`find_route`)."""
    found: dict[OrganisationId, set[Purpose]] = {}
    for agreement in _latest_versions(agreements):
        if not (agreement.in_force_on(on) and agreement.allows_referrals()):
            continue
        for party in agreement.parties:
            receiver = parties.get(party)
            if receiver is None or party == sender.organisation_id:
                continue
            for route in agreement.routes_between(sender, receiver):
                found.setdefault(party, set()).update(route.purposes)
    return found


def _latest_versions(agreements: Iterable[Agreement]) -> list[Agreement]:
    latest: dict[AgreementId, Agreement] = {}
    for agreement in agreements:
        known = latest.get(agreement.agreement_id)
        if known is None or agreement.version > known.version:
            latest[agreement.agreement_id] = agreement
    return sorted(latest.values(), key=lambda agreement: str(agreement.agreement_id))


def _try(
    agreement: Agreement,
    sender: Organisation,
    receiver: Organisation,
    purpose: Purpose,
    age: int,
    situation: Situation,
    on: dt.date,
) -> RouteMatch | RouteRefusal:
    def refused(code: RouteRefusalCode, why: str) -> RouteRefusal:
        return RouteRefusal(code, why, agreement.agreement_id, agreement.version)

    if not agreement.in_force_on(on):
        if on < agreement.valid_from:
            why = f"it applies only from {agreement.valid_from.isoformat()}"
        else:
            assert agreement.valid_until is not None
            why = f"it ended on {agreement.valid_until.isoformat()}"
        return refused(RouteRefusalCode.NOT_IN_FORCE, why)
    if not agreement.allows_referrals():
        return refused(
            RouteRefusalCode.INFORMATION_ONLY,
            "its linkage level is communication: it shares information, it allows no referrals",
        )
    routes = agreement.routes_between(sender, receiver)
    if not routes:
        return refused(
            RouteRefusalCode.NO_ROUTE,
            f"it has no route from {_describe(sender)} to {_describe(receiver)}",
        )
    with_purpose = [route for route in routes if purpose in route.purposes]
    if not with_purpose:
        allowed = ", ".join(sorted({p.value for route in routes for p in route.purposes}))
        return refused(
            RouteRefusalCode.PURPOSE_NOT_ALLOWED,
            f"its route from {_describe(sender)} to {_describe(receiver)} does not allow the "
            f"purpose {purpose.value} (it allows {allowed})",
        )
    of_age = [group for group in agreement.target_groups if group.min_age <= age <= group.max_age]
    if not of_age:
        ranges = ", ".join(
            f"{group.min_age} to {group.max_age}" for group in agreement.target_groups
        )
        return refused(
            RouteRefusalCode.AGE_OUTSIDE_TARGET_GROUPS,
            f"the person's age is outside every target group (ages {ranges})",
        )
    if not any(situation in group.situations for group in of_age):
        return refused(
            RouteRefusalCode.SITUATION_OUTSIDE_TARGET_GROUPS,
            f"no target group for the person's age covers the situation {situation.value}",
        )
    return RouteMatch(agreement, with_purpose[0])


def _describe(organisation: Organisation) -> str:
    return f"organisation {organisation.organisation_id} ({organisation.type.value})"
