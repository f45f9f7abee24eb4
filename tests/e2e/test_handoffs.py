"""The story Overgang is for, end to end, with the three services as their own processes on
their own Kafka and PostgreSQL (as `make up` runs them): a pupil leaves school (a CloudEvent
from the plain SDK), the follow-up service takes them on and refers them to NAV with consent,
NAV accepts and reaches them; every step is checked through the public APIs, the demo webhook
receiver and the audit endpoints. Then a consent withdrawn, and a redirect."""

import datetime as dt
import functools
import json
import secrets
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from schemas.codes import Role
from services.plumbing.working_days import oslo_date
from tests.e2e.handoffs import act, consent, ok, received_referral, refer, worklist
from tests.system import System, until

pytestmark = pytest.mark.e2e

WITHIN_S = 60
REFERRAL = "no.overgang.referral.{}.v1"


def _received(client: httpx.Client, *statuses: str) -> dict[str, dict[str, Any]]:
    """The caller's received referrals in these statuses, by id."""
    return worklist(client, "received", *statuses)


def _timeline(audit: httpx.Client, subject: str) -> list[dict[str, Any]]:
    """The person's timeline; empty while the audit has not heard of them (404)."""
    response = audit.get(f"/v1/audit/timelines/{subject}")
    if response.status_code == 404:
        return []
    items: list[dict[str, Any]] = ok(response)["items"]
    return items


def _delivered(system: System, referral: str) -> Counter[str]:
    """How many distinct webhooks of each event type the receiver verified for a referral."""
    deliveries = {d.webhook_id: d for d in system.deliveries() if d.referral_id == referral}
    return Counter(d.type for d in deliveries.values())


def _figures(audit: httpx.Client, today: dt.date) -> dict[str, Any]:
    statistics = ok(
        audit.get("/v1/audit/stats", params={"from": today.isoformat(), "to": today.isoformat()})
    )
    county = [group for group in statistics["groups"] if group["level"] == "county"]
    return county[0]["figures"] if county else {"filed": 0, "accepted": 0}


def test_a_pupil_who_left_school_is_referred_to_nav_accepted_reached_and_audited(
    system: System,
) -> None:
    # The statistics count by the Norwegian calendar day (UTC's is a day behind after 23:00).
    today = oslo_date(dt.datetime.now(dt.UTC))
    with (
        system.client("referral", "follow_up", Role.COORDINATOR, Role.FILER) as follow_up,
        system.client("referral", "nav_bergenhus", Role.COORDINATOR, Role.COUNSELLOR) as nav,
        system.client("audit", "follow_up", Role.AUDITOR) as audit,
    ):
        waiting = _received(follow_up, "submitted")
        figures_before = _figures(audit, today)

        # 1. The school's administration system reports the pupil (plain CloudEvents SDK).
        birth = dt.date(2007, 1, 1) + dt.timedelta(days=secrets.randbelow(365))  # of age
        reported = json.loads(
            system.overgang(
                "demo",
                "school-leaver",
                "--school",
                str(system.organisations["school"]),
                "--birth-date",
                birth.isoformat(),
                "--serial",
                str(secrets.randbelow(100)),
                "--json",
            )
        )
        assert uuid.UUID(reported["event_id"])

        # 2. It became a referral from the school to the follow-up service.
        new = until(
            lambda: {
                k: v for k, v in _received(follow_up, "submitted").items() if k not in waiting
            },
            timeout_s=WITHIN_S,
            what="the school leaver's referral at the follow-up service",
        )
        assert len(new) == 1
        (from_school,) = new.values()
        assert from_school["from_organisation_id"] == str(system.organisations["school"])
        assert from_school["situation"] == "left_upper_secondary"
        assert from_school["statutory_basis"] == "education_act_follow_up_service"
        subject = from_school["subject_id"]

        # 3. The follow-up service acknowledges and takes it on.
        from_school = act(follow_up, from_school, "receive")
        from_school = act(follow_up, from_school, "accept")
        assert from_school["status"] == "accepted"

        # 4. With the young person's consent, it refers them to NAV Bergenhus.
        consent_id = consent(follow_up, uuid.UUID(subject))
        to_nav = refer(
            follow_up, uuid.UUID(subject), system.organisations["nav_bergenhus"], consent_id
        )
        assert to_nav["status"] == "submitted"

        # 5. NAV sees it in its worklist, acknowledges, accepts and reaches the person.
        assert to_nav["referral_id"] in _received(nav, "submitted")
        to_nav = act(nav, to_nav, "receive")
        to_nav = act(nav, to_nav, "accept")
        to_nav = act(nav, to_nav, "contacts", {"method": "phone", "result": "reached"})
        assert to_nav["status"] == "accepted"
        assert [c["result"] for c in to_nav["contacts"]] == ["reached"]
        referral = to_nav["referral_id"]

        # 6. NAV's case system got one signed webhook of each step (the receiver verified
        # them), and a deadline.met for each deadline met.
        steps = ("submitted", "received", "accepted", "contact_recorded")
        wanted = Counter({REFERRAL.format(step): 1 for step in steps})
        wanted["no.overgang.deadline.met.v1"] = 3
        until(
            lambda: _delivered(system, referral) == wanted,
            timeout_s=WITHIN_S,
            what=f"the webhooks of {referral}: {wanted}",
        )

        # 7. The audit: the person's timeline across both organisations, in order, ...
        def timeline_complete() -> list[dict[str, Any]] | None:
            items = _timeline(audit, subject)
            met = [i for i in items if i["type"] == "no.overgang.deadline.met.v1"]
            return items if len(met) == 5 else None  # 2 at the follow-up service, 3 at NAV

        items = until(timeline_complete, timeout_s=WITHIN_S, what="the whole timeline")
        steps_in_order = [i["type"] for i in items if i["kind"] != "deadline"]
        assert steps_in_order == [
            "no.overgang.subject.registered.v1",
            REFERRAL.format("submitted"),
            REFERRAL.format("received"),
            REFERRAL.format("accepted"),
            "no.overgang.consent.given.v1",
            REFERRAL.format("submitted"),
            REFERRAL.format("received"),
            REFERRAL.format("accepted"),
            REFERRAL.format("contact_recorded"),
        ]
        met = Counter(
            (i["data"]["referral_id"], i["data"]["kind"])
            for i in items
            if i["type"] == "no.overgang.deadline.met.v1"
        )
        assert met == Counter(
            [(from_school["referral_id"], k) for k in ("acknowledge", "decide")]
            + [(referral, k) for k in ("acknowledge", "decide", "first_contact")]
        )

        # ... nothing open at NAV, and at the follow-up service only its own first contact
        # with the young person (it took them on, and has not reached them yet), ...
        deadlines = ok(audit.get("/v1/audit/deadlines"))["items"]
        assert [
            (d["referral_id"], d["kind"], d["state"])
            for d in deadlines
            if d["referral_id"] in (referral, from_school["referral_id"])
        ] == [(from_school["referral_id"], "first_contact", "open")]

        # ... the county's figures for today count both handoffs, ...
        figures = _figures(audit, today)
        assert figures["filed"] - figures_before["filed"] == 2
        assert figures["accepted"] - figures_before["accepted"] == 2

        # ... and the hash chain verifies.
        verified = ok(audit.get("/v1/audit/verify"))
        assert verified["ok"] is True
        assert verified["first_bad_sequence"] is None
        assert verified["verified_rows"] >= items[-1]["sequence"]


def test_a_withdrawn_consent_reaches_every_organisation_involved(system: System) -> None:
    with (
        system.client("referral", "follow_up", Role.COORDINATOR, Role.FILER) as follow_up,
        system.client("referral", "nav_bergenhus", Role.COORDINATOR, Role.COUNSELLOR) as nav,
        system.client("notifier", "follow_up", Role.COORDINATOR) as follow_up_inbox,
        system.client("notifier", "nav_bergenhus", Role.COORDINATOR) as nav_inbox,
        system.client("audit", "follow_up", Role.AUDITOR) as audit,
    ):
        subject, consent_id, referral = received_referral(
            follow_up, nav, system.organisations["nav_bergenhus"]
        )

        withdrawn = ok(
            follow_up.post(f"/v1/consents/{consent_id}/withdraw", json={"withdrawn_by": "person"})
        )
        assert withdrawn["consent"]["withdrawn_at"] is not None
        assert withdrawn["cancelled_referral_ids"] == [referral["referral_id"]]

        # The referral that rested on it alone is cancelled, for both organisations.
        for client in (follow_up, nav):
            assert ok(client.get(f"/v1/referrals/{referral['referral_id']}"))["status"] == (
                "cancelled"
            )

        # The audit's consent ledger shows when it was given and withdrawn, and what it covered.
        def ledger() -> dict[str, Any] | None:
            response = audit.get(f"/v1/audit/consents/{subject}")
            if response.status_code == 404:  # not heard of yet
                return None
            consents = ok(response)["consents"]
            return consents[0] if consents and consents[0]["withdrawn_at"] else None

        entry = until(ledger, timeout_s=WITHIN_S, what="the withdrawal in the consent ledger")
        assert entry["consent_id"] == str(consent_id)
        assert [h["referral_id"] for h in entry["handoffs"]] == [referral["referral_id"]]
        assert entry["cancelled_referral_ids"] == [referral["referral_id"]]
        (withdrawal,) = [
            i["event_id"]
            for i in _timeline(audit, str(subject))
            if i["type"] == "no.overgang.consent.withdrawn.v1"
        ]

        # Each organisation's inbox has the withdrawal, and the referral's cancellation; NAV's
        # case system got the cancellation's webhook too.
        def told(inbox: httpx.Client) -> set[str]:
            items = ok(inbox.get("/v1/inbox", params={"limit": 200}))["items"]
            return {n["event_type"] for n in items if n["event_id"] == withdrawal} | {
                n["event_type"]
                for n in items
                if n["referral_id"] == referral["referral_id"]
                and n["event_type"] == REFERRAL.format("cancelled")
            }

        expected = {"no.overgang.consent.withdrawn.v1", REFERRAL.format("cancelled")}
        for inbox in (follow_up_inbox, nav_inbox):
            until(
                functools.partial(lambda box: told(box) == expected, inbox),
                timeout_s=WITHIN_S,
                what="the withdrawal and the cancellation in the inbox",
            )
        until(
            lambda: _delivered(system, referral["referral_id"])[REFERRAL.format("cancelled")] == 1,
            timeout_s=WITHIN_S,
            what="the cancellation's webhook",
        )


def test_a_referral_redirected_reaches_the_new_receiver_and_the_audit(system: System) -> None:
    career_centre = system.organisations["career_centre"]
    with (
        system.client("referral", "follow_up", Role.COORDINATOR, Role.FILER) as follow_up,
        system.client("referral", "nav_voss", Role.COORDINATOR, Role.COUNSELLOR) as nav_voss,
        system.client("referral", "career_centre", Role.COORDINATOR) as centre,
        system.client("audit", "follow_up", Role.AUDITOR) as audit,
    ):
        subject, consent_id, referral = received_referral(
            follow_up, nav_voss, system.organisations["nav_voss"]
        )
        redirected = act(
            nav_voss,
            referral,
            "redirect",
            {
                "to_organisation_id": str(career_centre),
                "reason": "better_placed_elsewhere",
                "consent_id": str(consent_id),  # it covers career guidance too
            },
        )
        assert redirected["status"] == "redirected"

        # The same referral is the career centre's to receive now; NAV Voss's webhooks... (the
        # demo subscription is NAV Bergenhus's) are not NAV Voss's to see: it no longer has it.
        assert redirected["to_organisation_id"] == str(career_centre)
        assert redirected["referral_id"] in _received(centre, "redirected")
        assert redirected["referral_id"] not in _received(nav_voss, "received", "redirected")
        received = act(centre, redirected, "receive")
        assert received["status"] == "received"

        def timeline_types() -> list[str] | None:
            types = [i["type"] for i in _timeline(audit, str(subject)) if i["kind"] != "deadline"]
            return types if types.count(REFERRAL.format("received")) == 2 else None

        types = until(timeline_types, timeout_s=WITHIN_S, what="the redirect in the timeline")
        assert types == [
            "no.overgang.subject.registered.v1",
            "no.overgang.consent.given.v1",
            REFERRAL.format("submitted"),
            REFERRAL.format("received"),
            REFERRAL.format("redirected"),
            REFERRAL.format("received"),
        ]
        figures = _figures(audit, oslo_date(dt.datetime.now(dt.UTC)))
        assert figures["redirected"] >= 1
