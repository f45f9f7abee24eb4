"""`/v1/audit/stats` on the running app: a small county of referrals with known times, fed
through the audit service's consumers, gives hand-computed counts, medians, 90th percentiles
and in-time shares; the previous period compares; the CSV says what the JSON says; auditors see
their own county only, and nobody else sees anything."""

import asyncio
import csv
import datetime as dt
import io
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deploy.local.dev_issuer import jwks_file
from schemas.codes import OrganisationType, Role, Sector
from schemas.directory import AgreementRegisteredV1, OrganisationRegisteredV1, ServiceLevels
from schemas.envelope import CloudEvent
from schemas.referrals import (
    ContactResult,
    Outcome,
    ReferralAcceptedV1,
    ReferralCompletedV1,
    ReferralContactRecordedV1,
    ReferralReceivedV1,
    ReferralRedirectedV1,
    ReferralRejectedV1,
    ReferralSubmittedV1,
    RejectionReason,
)
from services.audit.app import AuditSettings, create_app
from services.audit.consumers import AuditTopics
from services.plumbing.binding import to_record
from tests.integration.audit.conftest import START, Tokens, actor, changed, event, wait_for_rows
from tests.integration.plumbing.consumer_helpers import publish
from tests.servers import Servers

pytestmark = pytest.mark.integration

# START is Monday 14 September 2026, 08:00 UTC. The period is two weeks from that Monday;
# the previous period the two weeks before.
PERIOD = {"from": "2026-09-14", "to": "2026-09-27"}
PROBLEM_JSON = "application/problem+json"
LEVELS = ServiceLevels(
    acknowledge_within_working_days=2,
    decide_within_working_days=3,
    first_contact_within_working_days=2,
    follow_up_every_days=30,
)
FOLLOW_UP_TO_NAV = "follow_up_service->nav_office"
FOLLOW_UP_TO_SCHOOL = "follow_up_service->school"
SCHOOL_TO_NAV = "school->nav_office"


def at(hours: float) -> dt.datetime:
    return START + dt.timedelta(hours=hours)


def registered(
    organisation_id: uuid.UUID, county: str, kind: OrganisationType, sector: Sector
) -> CloudEvent:
    return event(
        changed(
            OrganisationRegisteredV1,
            organisation_id=organisation_id,
            county_number=county,
            name="Testkontoret",
            type=kind,
            sector=sector,
            organisation_number=None,
        )
    )


def agreement(agreement_id: uuid.UUID, county: str, parties: list[uuid.UUID]) -> CloudEvent:
    return event(
        changed(
            AgreementRegisteredV1,
            agreement_id=agreement_id,
            version=1,
            county_number=county,
            parties=parties,
            service_levels=LEVELS,
        )
    )


class Referral:
    """One referral from `sender` to `receiver` under `agreement_id`, and its steps."""

    def __init__(self, sender: uuid.UUID, receiver: uuid.UUID, agreement_id: uuid.UUID) -> None:
        self.sender, self.receiver, self.agreement_id = sender, receiver, agreement_id
        self.referral_id, self.subject_id = uuid.uuid4(), uuid.uuid4()

    def _fields(self, hours: float) -> dict[str, Any]:
        return {
            "referral_id": self.referral_id,
            "subject_id": self.subject_id,
            "from_organisation_id": self.sender,
            "to_organisation_id": self.receiver,
            "actor": actor(self.receiver),
            "occurred_at": at(hours),
        }

    def submitted(self, hours: float) -> CloudEvent:
        data = changed(
            ReferralSubmittedV1,
            **self._fields(hours) | {"actor": actor(self.sender, Role.FILER)},
            agreement_id=self.agreement_id,
            agreement_version=1,
        )
        return event(data, at=at(hours))

    def received(self, hours: float) -> CloudEvent:
        return event(changed(ReferralReceivedV1, **self._fields(hours)), at=at(hours))

    def accepted(self, hours: float) -> CloudEvent:
        return event(changed(ReferralAcceptedV1, **self._fields(hours)), at=at(hours))

    def rejected(self, hours: float, reason: RejectionReason) -> CloudEvent:
        data = changed(ReferralRejectedV1, **self._fields(hours), reason=reason)
        return event(data, at=at(hours))

    def contact(self, hours: float, result: ContactResult) -> CloudEvent:
        data = changed(ReferralContactRecordedV1, **self._fields(hours), result=result)
        return event(data, at=at(hours))

    def completed(self, hours: float, outcome: Outcome) -> CloudEvent:
        data = changed(ReferralCompletedV1, **self._fields(hours), outcome=outcome)
        return event(data, at=at(hours))

    def redirected(self, hours: float, to: uuid.UUID) -> CloudEvent:
        """Sent on to `to` by the receiver; the referral's later steps are `to`'s."""
        before = self.receiver
        self.receiver = to
        data = changed(
            ReferralRedirectedV1,
            **self._fields(hours) | {"actor": actor(before)},
            agreement_id=self.agreement_id,
            agreement_version=1,
            redirected_from_organisation_id=before,
        )
        return event(data, at=at(hours))


class Scenario:
    """Vestland (46): a follow-up service, a NAV office and a school under one agreement, and
    an auditor; Oslo (03): one referral between its own two offices, and an auditor;
    Trøndelag (50): an auditor and nothing else.

    Hours from START (receive / decide / first contact, in hours):
    r1 follow-up -> NAV: filed 0, received 2, accepted 10, reached 34 and 60, completed 100
       (2 / 8 / 24; acknowledge, decide, first contact met)
    r2 follow-up -> NAV: filed 0, received 4, rejected (no capacity) 24 (4 / 20; two met)
    r3 school -> NAV: filed 1, received 7, accepted 13, not reached 20, reached 50
       (6 / 6 / 37; three met)
    r4 follow-up -> NAV: filed 2, redirected to the school 5, received 9, accepted 30
       (4 / 21; NAV's acknowledge met by the redirect, the school's acknowledge and decide
       met, its first contact due Thursday and never made)
    r7 follow-up -> NAV: filed 3, never acknowledged (acknowledge due Wednesday, unmet)
    r5 follow-up -> NAV, two weeks earlier: filed -336, received -334, rejected (outside
       mandate) -312 (2 / 22; two met)
    In Oslo: r6 between its own offices, filed 0, received 3 (3; one of two met), and r8 from
    Vestland's follow-up service to Oslo's NAV office, filed 6, never received (Oslo's)."""

    def __init__(self) -> None:
        ids = [uuid.uuid4() for _ in range(10)]
        self.follow_up, self.nav, self.school, self.auditor = ids[:4]
        self.oslo_follow_up, self.oslo_nav, self.oslo_auditor = ids[4:7]
        self.trondelag_auditor, self.agreement, self.oslo_agreement = ids[7:]
        self.directory = [
            registered(self.follow_up, "46", OrganisationType.FOLLOW_UP_SERVICE, Sector.EDUCATION),
            registered(self.nav, "46", OrganisationType.NAV_OFFICE, Sector.WORK_WELFARE),
            registered(self.school, "46", OrganisationType.SCHOOL, Sector.EDUCATION),
            registered(self.auditor, "46", OrganisationType.COUNTY_EDUCATION, Sector.EDUCATION),
            registered(
                self.oslo_follow_up, "03", OrganisationType.FOLLOW_UP_SERVICE, Sector.EDUCATION
            ),
            registered(self.oslo_nav, "03", OrganisationType.NAV_OFFICE, Sector.WORK_WELFARE),
            registered(
                self.oslo_auditor, "03", OrganisationType.COUNTY_EDUCATION, Sector.EDUCATION
            ),
            registered(
                self.trondelag_auditor, "50", OrganisationType.COUNTY_EDUCATION, Sector.EDUCATION
            ),
            agreement(self.agreement, "46", [self.follow_up, self.nav, self.school]),
            agreement(self.oslo_agreement, "03", [self.oslo_follow_up, self.oslo_nav]),
        ]
        r1, r2, r4, r5, r7 = (Referral(self.follow_up, self.nav, self.agreement) for _ in range(5))
        r3 = Referral(self.school, self.nav, self.agreement)
        r6 = Referral(self.oslo_follow_up, self.oslo_nav, self.oslo_agreement)
        r8 = Referral(self.follow_up, self.oslo_nav, self.oslo_agreement)
        self.person = [
            r1.submitted(0),
            r1.received(2),
            r1.accepted(10),
            r1.contact(34, ContactResult.REACHED),
            r1.contact(60, ContactResult.REACHED),  # not the first: not counted
            r1.completed(100, Outcome.EDUCATION),
            r2.submitted(0),
            r2.received(4),
            r2.rejected(24, RejectionReason.NO_CAPACITY),
            r3.submitted(1),
            r3.received(7),
            r3.accepted(13),
            r3.contact(20, ContactResult.NOT_REACHED),
            r3.contact(50, ContactResult.REACHED),
            r4.submitted(2),
            r4.redirected(5, self.school),
            r4.received(9),
            r4.accepted(30),
            r7.submitted(3),
            r5.submitted(-336),
            r5.received(-334),
            r5.rejected(-312, RejectionReason.OUTSIDE_MANDATE),
            r6.submitted(0),
            r6.received(3),
            r8.submitted(6),
        ]


@pytest.fixture
def topics(audit_topics: AuditTopics) -> AuditTopics:
    """The test's topics, with its own deadline topic for the notices."""
    *_, deadline = audit_topics.domain
    return AuditTopics(domain=audit_topics.domain, inbound=audit_topics.inbound, deadlines=deadline)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario()


@pytest.fixture
def fed(
    servers: Servers, database_url: str, tokens: Tokens, topics: AuditTopics, scenario: Scenario
) -> Iterator[TestClient]:
    """The audit app on this test's schema and topics, with the scenario's events logged."""
    settings = AuditSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        database_url=database_url,
        auth_jwks=str(jwks_file(tokens.directory)),
    )
    with TestClient(create_app(settings, topics=topics)) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.1)
        # The directory first: deadlines are due from the agreement's service levels.
        directory = [to_record(e) for e in scenario.directory]
        asyncio.run(publish(servers, topics.domain[1], directory))
        wait_for_rows(database_url, len(directory))
        asyncio.run(publish(servers, topics.domain[0], [to_record(e) for e in scenario.person]))
        wait_for_rows(database_url, len(directory) + len(scenario.person))
        yield client


def stats(client: TestClient, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    answer = client.get("/v1/audit/stats", headers=headers, params=PERIOD | query)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    return body


def group(body: dict[str, Any], level: str, name: str | None = None) -> dict[str, Any]:
    """The figures of the group of `level` named `name` (a route or an organisation id)."""
    field = {"route": "route", "organisation": "organisation_id"}.get(level)
    found: list[dict[str, Any]] = [
        g for g in body["groups"] if g["level"] == level and (field is None or g[field] == name)
    ]
    assert len(found) == 1, (level, name, body["groups"])
    return found[0]


def spread(figures: dict[str, Any], name: str) -> tuple[Any, Any, int]:
    value = figures[f"hours_to_{name}"]
    return (value["median"], value["p90"], value["count"])


def test_a_period_adds_up_per_county_route_and_receiver_and_compares_with_the_last(
    fed: TestClient, tokens: Tokens, scenario: Scenario
) -> None:
    auditor = tokens.headers(scenario.auditor, Role.AUDITOR)
    body = stats(fed, auditor, compare="previous")
    assert body["county_number"] == "46"
    assert body["period"] == PERIOD
    assert body["previous_period"] == {"from": "2026-08-31", "to": "2026-09-13"}
    assert [(g["level"], g["route"] or g["organisation_id"]) for g in body["groups"]] == [
        ("county", None),
        *sorted(
            ("route", route) for route in (FOLLOW_UP_TO_NAV, FOLLOW_UP_TO_SCHOOL, SCHOOL_TO_NAV)
        ),
        *sorted(("organisation", str(o)) for o in (scenario.nav, scenario.school)),
    ]

    county = group(body, "county")["figures"]
    assert (county["filed"], county["accepted"], county["rejected"]) == (5, 3, 1)
    assert county["rejected_by_reason"]["no_capacity"] == 1
    assert sum(county["rejected_by_reason"].values()) == 1
    assert (county["redirected"], county["completed"]) == (1, 1)
    assert county["completed_by_outcome"]["education"] == 1
    assert sum(county["completed_by_outcome"].values()) == 1
    # Receive: 2, 4, 6 and 4 (the school, from the redirect); decide: 8, 20, 6 and 21;
    # first contact: 24 and 37 (the contact that did not reach the person does not count).
    assert spread(county, "receive") == (4.0, 5.4, 4)
    assert spread(county, "decide") == (14.0, 20.7, 4)
    assert spread(county, "first_contact") == (30.5, 35.7, 2)
    # 13 deadlines due in the period; r7's acknowledge and r4's first contact unmet.
    assert (county["deadlines_due"], county["deadlines_met_in_time"]) == (13, 11)
    assert county["share_in_time"] == pytest.approx(11 / 13, abs=1e-4)

    to_nav = group(body, "route", FOLLOW_UP_TO_NAV)["figures"]
    assert (to_nav["filed"], to_nav["accepted"], to_nav["rejected"]) == (4, 1, 1)
    assert (to_nav["redirected"], to_nav["completed"]) == (1, 1)
    assert spread(to_nav, "receive") == (3.0, 3.8, 2)
    assert spread(to_nav, "decide") == (14.0, 18.8, 2)
    assert spread(to_nav, "first_contact") == (24.0, 24.0, 1)
    assert (to_nav["deadlines_due"], to_nav["deadlines_met_in_time"]) == (7, 6)
    to_school = group(body, "route", FOLLOW_UP_TO_SCHOOL)["figures"]
    assert (to_school["filed"], to_school["accepted"], to_school["redirected"]) == (0, 1, 0)
    assert spread(to_school, "receive") == (4.0, 4.0, 1)
    assert spread(to_school, "decide") == (21.0, 21.0, 1)
    assert (to_school["deadlines_due"], to_school["deadlines_met_in_time"]) == (3, 2)
    school_to_nav = group(body, "route", SCHOOL_TO_NAV)["figures"]
    assert (school_to_nav["filed"], school_to_nav["accepted"]) == (1, 1)
    assert spread(school_to_nav, "first_contact") == (37.0, 37.0, 1)
    assert school_to_nav["share_in_time"] == 1.0

    nav = group(body, "organisation", str(scenario.nav))["figures"]
    assert (nav["filed"], nav["accepted"], nav["rejected"], nav["redirected"]) == (5, 2, 1, 1)
    assert spread(nav, "receive") == (4.0, 5.6, 3)
    assert spread(nav, "decide") == (8.0, 17.6, 3)
    assert (nav["deadlines_due"], nav["deadlines_met_in_time"], nav["share_in_time"]) == (
        10,
        9,
        0.9,
    )
    school = group(body, "organisation", str(scenario.school))["figures"]
    assert (school["filed"], school["accepted"], school["deadlines_due"]) == (0, 1, 3)

    # The two weeks before: r5 only.
    before = group(body, "county")["previous"]
    assert (before["filed"], before["accepted"], before["rejected"]) == (1, 0, 1)
    assert before["rejected_by_reason"]["outside_mandate"] == 1
    assert spread(before, "receive") == (2.0, 2.0, 1)
    assert spread(before, "decide") == (22.0, 22.0, 1)
    assert spread(before, "first_contact") == (None, None, 0)
    assert (before["deadlines_due"], before["deadlines_met_in_time"]) == (2, 2)
    assert before["share_in_time"] == 1.0
    assert group(body, "route", FOLLOW_UP_TO_NAV)["previous"]["filed"] == 1
    assert group(body, "route", SCHOOL_TO_NAV)["previous"]["filed"] == 0
    # Without compare, no previous figures.
    alone = stats(fed, auditor)
    assert alone["previous_period"] is None
    assert all(g["previous"] is None for g in alone["groups"])
    assert group(alone, "county")["figures"] == county

    # By receiver and by route.
    only_school = stats(fed, auditor, organisation_id=str(scenario.school))
    assert group(only_school, "county")["figures"] == school
    assert [g["route"] for g in only_school["groups"] if g["level"] == "route"] == [
        FOLLOW_UP_TO_SCHOOL
    ]
    only_route = stats(fed, auditor, route=SCHOOL_TO_NAV)
    assert group(only_route, "county")["figures"] == school_to_nav


def flattened(body: dict[str, Any]) -> set[tuple[str, ...]]:
    """The JSON as the CSV's rows (period, from, to, level, route, organisation, measure,
    code, value), every value as the CSV writes it."""

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    rows: set[tuple[str, ...]] = set()
    periods = [("current", body["period"], "figures")]
    if body["previous_period"] is not None:
        periods.append(("previous", body["previous_period"], "previous"))
    for name, period, field in periods:
        for g in body["groups"]:
            head: tuple[str, ...] = (name, period["from"], period["to"], g["level"])
            head += (text(g["route"]), text(g["organisation_id"]))
            for measure, value in g[field].items():
                if isinstance(value, dict) and "median" in value:
                    for part in ("median", "p90", "count"):
                        rows.add((*head, f"{measure}_{part}", "", text(value[part])))
                elif isinstance(value, dict):  # by code: rows of the measure it breaks down
                    total = measure.split("_by_")[0]
                    rows |= {(*head, total, code, text(n)) for code, n in value.items()}
                else:
                    rows.add((*head, measure, "", text(value)))
    return rows


def test_the_csv_says_what_the_json_says(
    fed: TestClient, tokens: Tokens, scenario: Scenario
) -> None:
    auditor = tokens.headers(scenario.auditor, Role.AUDITOR)
    body = stats(fed, auditor, compare="previous")
    for answer in (
        fed.get(
            "/v1/audit/stats",
            headers=auditor,
            params=PERIOD | {"compare": "previous", "format": "csv"},
        ),
        fed.get(
            "/v1/audit/stats",
            headers=auditor | {"Accept": "text/csv"},
            params=PERIOD | {"compare": "previous"},
        ),
    ):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/csv")
        reader = csv.reader(io.StringIO(answer.text))
        header = next(reader)
        assert header == [
            "period",
            "from",
            "to",
            "level",
            "route",
            "organisation_id",
            "measure",
            "code",
            "value",
        ]
        rows = [tuple(row) for row in reader]
        assert len(rows) == len(set(rows))
        assert set(rows) == flattened(body)
        assert ("current", "2026-09-14", "2026-09-27", "county", "", "", "filed", "", "5") in rows


def test_auditors_see_their_own_county_only_and_nobody_else_sees_any(
    fed: TestClient, tokens: Tokens, scenario: Scenario
) -> None:
    oslo = stats(fed, tokens.headers(scenario.oslo_auditor, Role.AUDITOR))
    assert oslo["county_number"] == "03"
    figures = group(oslo, "county")["figures"]
    # r6: acknowledged in time, its decision due on Thursday and never made; r8 (from
    # Vestland): never acknowledged. Vestland sees neither (they are Oslo's to follow up).
    assert (figures["filed"], figures["deadlines_due"], figures["deadlines_met_in_time"]) == (
        2,
        3,
        1,
    )
    assert spread(figures, "receive") == (3.0, 3.0, 1)
    assert [g["organisation_id"] for g in oslo["groups"] if g["level"] == "organisation"] == [
        str(scenario.oslo_nav)
    ]

    trondelag = stats(fed, tokens.headers(scenario.trondelag_auditor, Role.ADMIN))
    assert [g["level"] for g in trondelag["groups"]] == ["county"]
    nothing = trondelag["groups"][0]["figures"]
    assert (nothing["filed"], nothing["accepted"], nothing["deadlines_due"]) == (0, 0, 0)
    assert nothing["share_in_time"] is None
    assert spread(nothing, "decide") == (None, None, 0)
    # Another county's organisation as a filter shows nothing either.
    elsewhere = stats(
        fed, tokens.headers(scenario.auditor, Role.AUDITOR), organisation_id=str(scenario.oslo_nav)
    )
    assert [g["level"] for g in elsewhere["groups"]] == ["county"]
    assert group(elsewhere, "county")["figures"]["filed"] == 0

    for role in (Role.FILER, Role.COUNSELLOR, Role.COORDINATOR):
        answer = fed.get(
            "/v1/audit/stats", headers=tokens.headers(scenario.nav, role), params=PERIOD
        )
        assert answer.status_code == 403, role
        assert answer.headers["content-type"] == PROBLEM_JSON
    assert fed.get("/v1/audit/stats", params=PERIOD).status_code == 401
    unknown = fed.get(
        "/v1/audit/stats", headers=tokens.headers(uuid.uuid4(), Role.AUDITOR), params=PERIOD
    )
    assert unknown.status_code == 403
    assert unknown.json()["type"].endswith("/not-in-directory")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-09-27", "to": "2026-09-14"}, "to"),
        ({"from": "2020-01-01", "to": "2026-09-14"}, "to"),
        ({"to": "2026-09-14"}, "from"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
        ({"from": "9999-12-30", "to": "9999-12-31"}, "from"),
        ({"from": "2026-09-14", "to": "9999-12-31"}, "to"),
        ({"from": "2026-09-14", "to": "14.09.2026"}, "to"),
        (PERIOD | {"route": "school"}, "route"),
        (PERIOD | {"route": "school->bakery"}, "route"),
        (PERIOD | {"compare": "next"}, "compare"),
        (PERIOD | {"colour": "red"}, "colour"),
    ],
)
def test_a_bad_period_or_filter_is_a_problem_naming_the_field(
    fed: TestClient, tokens: Tokens, scenario: Scenario, query: dict[str, str], field: str
) -> None:
    answer = fed.get(
        "/v1/audit/stats", headers=tokens.headers(scenario.auditor, Role.AUDITOR), params=query
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    problem = answer.json()
    assert field in {error["field"] for error in problem["errors"]}, problem
