"""A school administration system's "pupil left school" report becomes one registered person
and one referral to the county's follow-up service; what cannot be acted on is dead-lettered
with its reason, and the next report is still handled."""

import logging
import uuid

import pytest

from schemas.referrals import StatutoryBasis
from services.plumbing.dead_letters import DeadLetter, read_dead_letters
from services.referral.consumers.school_leavers import SCHOOL_SYSTEMS
from services.referral.domain.status import ReferralStatus
from services.referral.store import worklists
from tests.integration.plumbing.consumer_helpers import eventually
from tests.integration.referral_consumers.conftest import (
    SCHOOL_SOURCE,
    ReferralService,
    identity_number,
    pupil_left,
    years_ago,
)

pytestmark = pytest.mark.integration

SUBMITTED_TYPES = [
    "no.overgang.subject.registered.v1",
    "no.overgang.referral.submitted.v1",
]


async def _outbox_types(service: ReferralService) -> list[str]:
    rows = await service.database.fetch(
        """SELECT headers->>'ce_type' AS type FROM outbox
           WHERE topic = 'overgang.person.v1' ORDER BY position"""
    )
    return [row["type"] for row in rows]


async def _dead_letters(service: ReferralService, count: int) -> list[DeadLetter]:
    found: list[DeadLetter] = []

    async def arrived() -> bool:
        nonlocal found
        found = await read_dead_letters(
            service.servers.kafka_bootstrap, service.topics.inbound_school
        )
        return len(found) >= count

    await eventually(arrived, within_s=60)
    return found


async def test_a_pupil_who_left_school_is_referred_to_the_follow_up_service_once(
    referral_service: ReferralService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service, county = referral_service, referral_service.county
    birth = years_ago(18)
    number = identity_number(birth)
    report = pupil_left(number, birth)

    await service.send(report)
    await service.until("SELECT count(*) FROM referrals", 1)
    # The same report again (a redelivery, or the system sending twice): nothing more.
    await service.send(report)
    await service.until(
        "SELECT count(*) FROM inbox WHERE event_id = $1", 1, report.id
    )  # handled once...
    consumer = next(
        c for c in service.app.state.consumers.consumers if c.topic == service.topics.inbound_school
    )
    await eventually(lambda: _seen(consumer.totals.duplicates, 1))  # ...and seen again

    assert await service.database.fetchval("SELECT count(*) FROM subjects") == 1
    assert await service.database.fetchval("SELECT count(*) FROM referrals") == 1
    row = await service.database.fetchrow("SELECT * FROM referrals")
    assert row is not None
    assert row["from_organisation_id"] == county.school
    assert row["to_organisation_id"] == county.follow_up_service
    assert row["purpose"] == "follow_up_outside_school_and_work"
    assert row["situation"] == "left_upper_secondary"
    assert row["statutory_basis"] == StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE.value
    assert row["consent_id"] is None
    assert row["agreement_id"] == county.agreement
    assert row["status"] == ReferralStatus.SUBMITTED.value
    assert await _outbox_types(service) == SUBMITTED_TYPES
    submitted = await service.database.fetchval(
        """SELECT convert_from(value, 'UTF8') FROM outbox
           WHERE headers->>'ce_type' = 'no.overgang.referral.submitted.v1'"""
    )
    # Filed by the school's system: a stable actor of the school, in the filer role.
    actor_id = str(uuid.uuid5(SCHOOL_SYSTEMS, SCHOOL_SOURCE))
    assert f'"actor_id":"{actor_id}"' in submitted.replace(" ", "")
    assert '"role":"filer"' in submitted.replace(" ", "")
    # The number never leaves the door: not in an event, not in a log line.
    everything = await service.database.fetch("SELECT convert_from(value, 'UTF8') AS v FROM outbox")
    assert not [row["v"] for row in everything if number in row["v"]]
    assert number not in caplog.text
    assert birth.isoformat() not in caplog.text
    # The follow-up service finds it in its worklist.
    page = await worklists.received(service.database, county.follow_up_service)
    assert [referral.referral_id for referral in page.referrals] == [row["referral_id"]]


async def _seen(value: int, expected: int) -> bool:
    return value >= expected


async def test_another_report_while_a_referral_is_open_files_none(
    referral_service: ReferralService,
) -> None:
    service = referral_service
    birth = years_ago(17)
    number = identity_number(birth)
    first, second = pupil_left(number, birth), pupil_left(number, birth)

    await service.send(first, second)
    await service.until("SELECT count(*) FROM inbox", 2)

    assert await service.database.fetchval("SELECT count(*) FROM subjects") == 1
    assert await service.database.fetchval("SELECT count(*) FROM referrals") == 1
    assert await _outbox_types(service) == SUBMITTED_TYPES
    # Once that referral is closed, a new report files a new one.
    await service.database.execute("UPDATE referrals SET status = 'completed'")
    third = pupil_left(number, birth, school_id=service.county.school)
    await service.send(third)
    await service.until("SELECT count(*) FROM referrals", 2)
    assert await service.database.fetchval("SELECT count(*) FROM subjects") == 1


async def test_a_report_that_cannot_be_acted_on_is_dead_lettered_and_the_next_is_handled(
    referral_service: ReferralService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service, county = referral_service, referral_service.county
    birth = years_ago(18)
    without_route = pupil_left(identity_number(birth, 1), birth, school_id=county.lonely_school)
    too_old = years_ago(30)
    out_of_age = pupil_left(identity_number(too_old, 2), too_old)
    no_birth_date = pupil_left(identity_number(birth, 3), None)
    unknown_school = pupil_left(identity_number(birth, 4), birth, school_number="123456785")
    good = pupil_left(identity_number(birth, 5), birth)
    refused = [without_route, out_of_age, no_birth_date, unknown_school]

    await service.send(*refused, good)
    letters = await _dead_letters(service, 4)
    await service.until("SELECT count(*) FROM referrals", 1)

    reasons = [letter.reason for letter in letters]
    assert [reason["reason"] for reason in reasons] == ["unprocessable"] * 4
    # Dead-lettered at once: trying again could not help.
    assert [reason["attempts"] for reason in reasons] == ["1"] * 4
    assert [reason["error_class"] for reason in reasons] == [
        "NoFollowUpService", "NoFollowUpService", "NoBirthDate", "UnknownSchool",
    ]  # fmt: skip
    messages = [reason["error_message"] for reason in reasons]
    assert "has a route to a follow-up service" in messages[0]
    assert str(county.lonely_school) in messages[0]
    assert "age is outside every target group (ages 15 to 24)" in messages[1]
    assert "no birth_date" in messages[2]
    assert "organisation number 123456785" in messages[3]
    for letter, event in zip(letters, refused, strict=True):
        assert letter.value is not None
        assert str(event.id).encode() in b"".join(value for _, value in letter.original_headers)
        # The reason names no one: neither the number nor the birth date.
        number = event.data["national_identity_number"]
        assert number not in str(letter.reason)
        assert number not in caplog.text
    assert birth.isoformat() not in str(reasons)
    # Nothing of the refused reports was kept: only the good one's person and referral.
    assert await service.database.fetchval("SELECT count(*) FROM subjects") == 1
    outcomes = await service.database.fetch("SELECT event_id, outcome FROM inbox")
    assert {row["event_id"]: row["outcome"] for row in outcomes} == {
        **{event.id: "dead_lettered" for event in refused},
        good.id: "handled",
    }
