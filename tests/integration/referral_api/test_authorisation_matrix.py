"""Who may do what, cell by cell: every endpoint, every role, and the caller's organisation's
place (the referral's sender, its receiver, or neither). Each cell gets a fresh referral in
the status the endpoint needs, so that an allowed call succeeds and a refused one is refused
for who the caller is, never for the state of the referral.

The expected table is written out per endpoint as the rule users were promised (DESIGN.md,
Security): an organisation sees only referrals it sent or received (others get 404, as if
there were none); within them, the role decides (403). Every cell is asserted; a failure
lists every wrong cell at once."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from schemas.codes import Role
from tests.integration.referral_api.county import County, act, file

pytestmark = pytest.mark.integration

ROLES = tuple(Role)
SENDER, RECEIVER, NEITHER = "sender", "receiver", "neither"
PLACES = (SENDER, RECEIVER, NEITHER)

Expect = Callable[[Role, str], int]


def _referral_in(client: TestClient, county: County, status: str) -> dict[str, Any]:
    """A fresh referral in a status, taken there by the right people."""
    nav = county.counsellor()
    referral = file(client, county)
    steps = {
        "submitted": [],
        "received": ["receive"],
        "accepted": ["receive", "accept"],
        "in_progress": ["receive", "accept", "start"],
    }[status]
    for step in steps:
        referral = act(client, referral, step, nav)
    return referral


@dataclass(frozen=True)
class Endpoint:
    """One operation on a referral, with the status it needs and the body it takes."""

    name: str
    method: str
    path: str  # with {id}
    status: str
    expect: Expect
    body: dict[str, Any] | None = None
    needs_if_match: bool = True


def _role_then_party(allowed_roles: set[Role], party: set[str], success: int = 200) -> Expect:
    """The router lets the roles in (403), the organisation must see the referral (404), and
    the domain lets only the right party act (403)."""

    def expect(role: Role, place: str) -> int:
        if role not in allowed_roles:
            return 403
        if place == NEITHER:
            return 404
        return success if place in party else 403

    return expect


READERS = {Role.FILER, Role.COUNSELLOR, Role.COORDINATOR, Role.ADMIN}
HANDLERS = {Role.COUNSELLOR, Role.COORDINATOR}
SENDERS = {Role.FILER, Role.COORDINATOR}

ENDPOINTS = [
    Endpoint(
        "read",
        "GET",
        "/v1/referrals/{id}",
        "submitted",
        _role_then_party(READERS, {SENDER, RECEIVER}),
        needs_if_match=False,
    ),
    Endpoint(
        "history",
        "GET",
        "/v1/referrals/{id}/history",
        "submitted",
        _role_then_party(READERS, {SENDER, RECEIVER}),
        needs_if_match=False,
    ),
    Endpoint("receive", "POST", "/v1/referrals/{id}/receive", "submitted",
             _role_then_party(HANDLERS, {RECEIVER})),
    Endpoint("accept", "POST", "/v1/referrals/{id}/accept", "received",
             _role_then_party(HANDLERS, {RECEIVER})),
    Endpoint("reject", "POST", "/v1/referrals/{id}/reject", "received",
             _role_then_party(HANDLERS, {RECEIVER}), {"reason": "no_capacity"}),
    Endpoint(
        "redirect",
        "POST",
        "/v1/referrals/{id}/redirect",
        "received",
        _role_then_party(HANDLERS, {RECEIVER}),
        {"reason": "no_capacity", "statutory_basis": "nav_act_cooperation"},
    ),
    Endpoint("withdraw", "POST", "/v1/referrals/{id}/withdraw", "submitted",
             _role_then_party(SENDERS, {SENDER}), {"reason": "no_longer_needed"}),
    Endpoint("start", "POST", "/v1/referrals/{id}/start", "accepted",
             _role_then_party(HANDLERS, {RECEIVER})),
    Endpoint("contacts", "POST", "/v1/referrals/{id}/contacts", "accepted",
             _role_then_party(HANDLERS, {RECEIVER}, 201), {"method": "phone", "result": "reached"}),
    Endpoint("follow-ups", "POST", "/v1/referrals/{id}/follow-ups", "in_progress",
             _role_then_party(HANDLERS, {RECEIVER}, 201), {"method": "meeting"}),
    Endpoint("complete", "POST", "/v1/referrals/{id}/complete", "in_progress",
             _role_then_party(HANDLERS, {RECEIVER}), {"outcome": "education"}),
    Endpoint("assign", "POST", "/v1/referrals/{id}/assign", "submitted",
             _role_then_party({Role.COORDINATOR}, {RECEIVER}),
             {"assignee_id": str(uuid.UUID(int=7)), "assignee_role": "counsellor"}),
    Endpoint("cancel", "POST", "/v1/referrals/{id}/cancel", "submitted",
             _role_then_party({Role.ADMIN}, {SENDER, RECEIVER}), {"reason": "duplicate"}),
]  # fmt: skip


def _organisation(county: County, place: str) -> uuid.UUID:
    # "Neither": an organisation in the directory that is no party to the referral.
    return {SENDER: county.follow_up, RECEIVER: county.nav, NEITHER: county.nav_east}[place]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.name)
def test_every_role_of_every_party_on_a_referral(
    client: TestClient, county: County, endpoint: Endpoint
) -> None:
    wrong: list[str] = []
    for role in ROLES:
        for place in PLACES:
            referral = _referral_in(client, county, endpoint.status)
            body = dict(endpoint.body or {})
            if endpoint.name == "redirect":
                body["to_organisation_id"] = str(county.nav_east)
            headers = county.tokens.headers(_organisation(county, place), role)
            if endpoint.needs_if_match:
                headers["If-Match"] = f'"{referral["version"]}"'
            response = client.request(
                endpoint.method,
                endpoint.path.format(id=referral["referral_id"]),
                json=body if endpoint.method == "POST" and body else None,
                headers=headers,
            )
            expected = endpoint.expect(role, place)
            if response.status_code != expected:
                wrong.append(
                    f"{role.value} of the {place}: {response.status_code}, expected {expected}"
                    f" ({response.text[:200]})"
                )
            elif expected >= 400:
                assert response.headers["content-type"] == "application/problem+json"
    assert not wrong, f"{endpoint.method} {endpoint.path}:\n" + "\n".join(wrong)


def test_filing_is_for_a_filer_or_coordinator_of_the_sending_organisation(
    client: TestClient, county: County
) -> None:
    wrong = []
    for role in ROLES:
        # The sender has a route to the receiver; the other organisation has none.
        for organisation, allowed in ((county.follow_up, 201), (county.nav_east, 422)):
            response = client.post(
                "/v1/referrals",
                json=county.filing(),
                headers=county.tokens.headers(organisation, role),
            )
            expected = allowed if role in SENDERS else 403
            if response.status_code != expected:
                wrong.append(f"{role.value} of {organisation}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_worklists_are_for_readers_and_show_only_their_own_organisations_referrals(
    client: TestClient, county: County
) -> None:
    filed = file(client, county)
    wrong = []
    for role in ROLES:
        for place in PLACES:
            organisation = _organisation(county, place)
            headers = county.tokens.headers(organisation, role)
            for box in ("received", "sent"):
                response = client.get(f"/v1/referrals?box={box}", headers=headers)
                if role not in READERS:
                    if response.status_code != 403:
                        wrong.append(f"{role.value}/{place}/{box}: {response.status_code}")
                    continue
                shown = [item["referral_id"] for item in response.json()["items"]]
                mine = (box, place) in (("sent", SENDER), ("received", RECEIVER))
                if shown != ([filed["referral_id"]] if mine else []):
                    wrong.append(f"{role.value}/{place}/{box}: {shown}")
    assert not wrong, "\n".join(wrong)


def test_bulk_reassignment_is_for_a_coordinator_and_touches_only_their_organisation(
    client: TestClient, county: County
) -> None:
    coordinator = county.tokens.headers(county.nav, Role.COORDINATOR)
    leaving = uuid.uuid4()
    act(
        client,
        file(client, county),
        "assign",
        coordinator,
        {"assignee_id": str(leaving), "assignee_role": "counsellor"},
    )
    body = {
        "from_counsellor_id": str(leaving),
        "assignee_id": str(uuid.uuid4()),
        "assignee_role": "counsellor",
    }
    wrong = []
    for role in ROLES:
        for place in (SENDER, NEITHER):
            headers = county.tokens.headers(_organisation(county, place), role)
            response = client.post("/v1/referrals/reassignments", json=body, headers=headers)
            expected = 200 if role is Role.COORDINATOR else 403
            if response.status_code != expected or (
                expected == 200 and response.json()["reassigned"] != []
            ):
                wrong.append(f"{role.value}/{place}: {response.status_code} {response.text}")
    assert not wrong, "\n".join(wrong)
