"""What the log records of an event or a dead-lettered record."""

import datetime as dt
import json
import uuid

from schemas.envelope import CloudEvent
from schemas.examples import FOLLOW_UP_SERVICE, NAV_OFFICE, SUBJECT, example_of
from schemas.referrals import ReferralSubmittedV1
from services.audit.domain.chain import sha256
from services.audit.domain.entries import (
    dead_letter_entry,
    event_entry,
    event_payload,
    organisations_in,
)

NOW = dt.datetime(2026, 9, 14, 10, 0, tzinfo=dt.UTC)


def submitted() -> CloudEvent:
    return CloudEvent.of(
        example_of(ReferralSubmittedV1),
        source="/overgang/tests",
        event_id=uuid.UUID(int=1),
        time=NOW,
    )


def test_the_payload_is_canonical_whatever_the_order_of_the_data() -> None:
    event = submitted()
    shuffled = event.model_copy(update={"data": dict(reversed(list(event.data.items())))})

    assert event_payload(event) == event_payload(shuffled)
    assert json.loads(event_payload(event))["partitionkey"] == str(SUBJECT)


def test_an_event_entry_names_its_subject_and_every_organisation() -> None:
    entry = event_entry(submitted(), topic="overgang.person.v1", recorded_at=NOW)

    assert entry.subject_id == SUBJECT
    assert FOLLOW_UP_SERVICE in entry.organisation_ids
    assert NAV_OFFICE in entry.organisation_ids
    assert len(set(entry.organisation_ids)) == len(entry.organisation_ids)
    assert entry.payload_hash == sha256(entry.payload or b"")


def test_organisations_are_found_at_any_depth_and_nothing_else_is() -> None:
    one, two, three = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)
    data = {
        "actor": {"organisation_id": str(one), "actor_id": str(uuid.UUID(int=9))},
        "parties": [str(two), str(one)],
        "routes": [{"to_organisation": {"organisation_id": str(three)}}],
        "recipient_organisation_ids": ["not-a-uuid"],
        "subject_id": str(uuid.UUID(int=8)),
    }

    assert organisations_in(data) == (one, two, three)


def test_an_undecodable_dead_letter_keeps_its_reason_and_only_the_hash_of_its_bytes() -> None:
    entry = dead_letter_entry(
        event=None,
        value=b"\x00garbage",
        headers=[
            ("ce_type", b"no.overgang.x.y.v1"),
            ("dlq.reason", b"undecodable"),
            ("dlq.error_message", b"bad\x00byte"),
            ("dlq.source_topic", b"overgang.person.v1"),
        ],
        dead_letter_topic="overgang.person.v1.dlq",
        partition=2,
        offset=41,
        inbound=False,
        recorded_at=NOW,
    )

    assert entry.payload is None
    assert entry.payload_hash == sha256(b"\x00garbage")
    assert entry.dead_letter == {
        "reason": "undecodable",
        "error_message": "bad\ufffdbyte",
        "source_topic": "overgang.person.v1",
    }
    assert entry.type == "no.overgang.x.y.v1"
    assert entry.source_topic == "overgang.person.v1"


def test_the_same_place_on_a_dead_letter_topic_is_the_same_entry() -> None:
    def at(offset: int) -> uuid.UUID:
        return dead_letter_entry(
            event=submitted(),
            value=None,
            headers=[],
            dead_letter_topic="t.dlq",
            partition=0,
            offset=offset,
            inbound=True,
            recorded_at=NOW,
        ).entry_id

    assert at(5) == at(5)
    assert at(5) != at(6)
    assert at(5) != submitted().id


def test_an_inbound_dead_letter_is_kept_as_its_hash_only() -> None:
    entry = dead_letter_entry(
        event=submitted(),
        value=None,
        headers=[],
        dead_letter_topic="overgang.inbound.school.v1.dlq",
        partition=0,
        offset=0,
        inbound=True,
        recorded_at=NOW,
    )

    assert entry.payload is None
    assert entry.payload_hash == sha256(event_payload(submitted()))
    assert entry.source_topic == "overgang.inbound.school.v1"
