"""POST /v1/events with a client we did not write: the CloudEvents Python SDK builds the
binary and structured HTTP requests (and each event of a batch, in its JSON format), httpx
sends them. What is accepted is on the inbound topic, as the Kafka path puts it there, and
the referral service's consumer refers the pupil to the follow-up service; what is refused
is a problem (RFC 9457) that says why, and nothing of it reaches the topic."""

import asyncio
import datetime as dt
import json
import logging
import uuid

import pytest
from cloudevents.core.bindings.http import to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat

from schemas.codes import Role
from schemas.inbound import PupilLeftSchoolV1
from services.plumbing.binding import from_record
from tests.integration.referral_consumers.conftest import (
    SCHOOL_NUMBER,
    SCHOOL_SOURCE,
    identity_number,
    years_ago,
)
from tests.integration.referral_ingress.conftest import (
    MAX_BATCH,
    Ingress,
    batch_body,
    nothing_more,
    problem_of,
    sdk_event,
)

pytestmark = pytest.mark.integration

JSON = JSONFormat()
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
MODES = ["application/json", STRUCTURED, BATCH]


async def test_binary_mode_from_the_sdk_is_on_the_topic_and_becomes_a_referral(
    ingress: Ingress, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    birth = years_ago(18)
    number = identity_number(birth)
    event = sdk_event(school=ingress.county.school, number=number, birth=birth)
    message = to_binary(event, JSON)
    assert message.headers["ce-specversion"] == "1.0"  # binary mode indeed

    response = await ingress.client.post(
        "/v1/events",
        content=message.body,
        headers={**message.headers, **ingress.school_system()},
    )

    assert response.status_code == 202, response.text
    receipt = response.json()
    assert receipt["id"] == event.get_id()
    assert receipt["source"] == SCHOOL_SOURCE
    assert receipt["type"] == PupilLeftSchoolV1.ce_type
    assert dt.datetime.fromisoformat(receipt["received_at"]).tzinfo is not None
    assert "Idempotent-Replayed" not in response.headers
    # On the topic, as the Kafka path has it: keyed by the event id, ce_ headers, no subject.
    (record,) = await ingress.records()
    assert record.key == event.get_id().encode()
    on_kafka = from_record(record.key, record.value, record.headers)
    assert str(on_kafka.id) == event.get_id()
    assert on_kafka.type == PupilLeftSchoolV1.ce_type
    assert on_kafka.source == SCHOOL_SOURCE
    assert on_kafka.data == event.get_data()
    assert on_kafka.time == event.get_time()
    assert not any(number.encode() in value for _, value in record.headers)
    # ...and the consumer refers the pupil from the school to the follow-up service.
    await ingress.until("SELECT count(*) FROM referrals", 1)
    row = await ingress.database.fetchrow("SELECT * FROM referrals")
    assert row is not None
    assert row["from_organisation_id"] == ingress.county.school
    assert row["to_organisation_id"] == ingress.county.follow_up_service
    assert row["purpose"] == "follow_up_outside_school_and_work"
    outcome = await ingress.database.fetchval(
        "SELECT outcome FROM inbox WHERE event_id = $1", uuid.UUID(event.get_id())
    )
    assert outcome == "handled"
    # The number never reaches a log line, nor does the birth date.
    assert number not in caplog.text
    assert birth.isoformat() not in caplog.text


async def test_structured_mode_from_the_sdk_by_organisation_number(ingress: Ingress) -> None:
    event = sdk_event(school_number=SCHOOL_NUMBER)
    message = to_structured(event, JSON)
    assert message.headers["content-type"].startswith(STRUCTURED)

    response = await ingress.client.post(
        "/v1/events", content=message.body, headers={**message.headers, **ingress.school_system()}
    )

    assert response.status_code == 202, response.text
    assert response.json()["id"] == event.get_id()
    (record,) = await ingress.records()
    assert record.key == event.get_id().encode()
    await ingress.until("SELECT count(*) FROM referrals", 1)


async def test_batch_mode_puts_every_event_on_the_topic_in_order(ingress: Ingress) -> None:
    birth = years_ago(17)
    events = [
        sdk_event(school=ingress.county.school, number=identity_number(birth, n), birth=birth)
        for n in range(3)
    ]

    response = await ingress.client.post(
        "/v1/events",
        content=batch_body(*events),
        headers={"Content-Type": BATCH, **ingress.school_system()},
    )

    assert response.status_code == 202, response.text
    receipts = response.json()["receipts"]
    assert [receipt["id"] for receipt in receipts] == [event.get_id() for event in events]
    records = await ingress.records()
    assert [record.key for record in records] == [event.get_id().encode() for event in events]
    await ingress.until("SELECT count(*) FROM referrals", 3)
    # An empty batch is a batch (the JSON batch format allows it): nothing to receive.
    empty = await ingress.client.post(
        "/v1/events", content=b"[]", headers={"Content-Type": BATCH, **ingress.school_system()}
    )
    assert empty.status_code == 202, empty.text
    assert empty.json() == {"receipts": []}


async def test_a_resend_gets_the_same_answer_and_puts_nothing_more_on_the_topic(
    ingress: Ingress,
) -> None:
    event = sdk_event(school=ingress.county.school)
    binary, structured = to_binary(event, JSON), to_structured(event, JSON)
    token = ingress.school_system()

    first = await ingress.client.post(
        "/v1/events", content=binary.body, headers={**binary.headers, **token}
    )
    again = await ingress.client.post(
        "/v1/events", content=binary.body, headers={**binary.headers, **token}
    )
    # The same event in another mode is the same event.
    other_mode = await ingress.client.post(
        "/v1/events", content=structured.body, headers={**structured.headers, **token}
    )
    in_a_batch = await ingress.client.post(
        "/v1/events", content=batch_body(event), headers={"Content-Type": BATCH, **token}
    )

    assert first.status_code == again.status_code == other_mode.status_code == 202
    assert again.json() == first.json() == other_mode.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert in_a_batch.status_code == 202
    assert in_a_batch.json() == {"receipts": [first.json()]}
    assert len(await ingress.records()) == 1
    assert await ingress.receipts() == 1
    await ingress.until("SELECT count(*) FROM referrals", 1)


async def test_another_event_under_a_used_id_and_source_is_a_conflict(ingress: Ingress) -> None:
    event_id = str(uuid.uuid4())
    first = sdk_event(school=ingress.county.school, event_id=event_id)
    other = sdk_event(school=ingress.county.school, event_id=event_id)  # another pupil
    token = ingress.school_system()
    sent = to_structured(first, JSON)
    accepted = await ingress.client.post(
        "/v1/events", content=sent.body, headers={**sent.headers, **token}
    )
    assert accepted.status_code == 202

    message = to_structured(other, JSON)
    response = await ingress.client.post(
        "/v1/events", content=message.body, headers={**message.headers, **token}
    )
    fresh = sdk_event(school=ingress.county.school)
    in_batch = await ingress.client.post(
        "/v1/events",
        content=batch_body(fresh, other),
        headers={"Content-Type": BATCH, **token},
    )

    problem = problem_of(response, 409)
    # RFC 9110, 15.5.10: enough for the sender to recognise the source of the conflict.
    assert problem["type"].endswith("/event-id-taken")
    assert "received before" in problem["detail"]
    # The whole batch is refused, naming the event; its good event is not sent either.
    assert problem_of(in_batch, 409)["indexes"] == [1]
    await nothing_more(ingress, records=1, receipts=1)
    # The same id from another source is another event.
    elsewhere = sdk_event(school=ingress.county.school, event_id=event_id, source="/other/sis")
    message = to_structured(elsewhere, JSON)
    assert (
        await ingress.client.post(
            "/v1/events", content=message.body, headers={**message.headers, **token}
        )
    ).status_code == 202


def _binary_request(ingress: Ingress, **changes: str | None) -> tuple[bytes, dict[str, str]]:
    message = to_binary(sdk_event(school=ingress.county.school), JSON)
    headers = dict(message.headers)
    for name, value in changes.items():
        header = name.replace("_", "-")
        if value is None:
            headers.pop(header)
        else:
            headers[header] = value
    return message.body, headers


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"ce_id": None}, "id", "missing"),
        ({"ce_id": "not-a-uuid"}, "id", "uuid_parsing"),
        ({"ce_source": None}, "source", "missing"),
        ({"ce_specversion": "0.3"}, "specversion", "unsupported_specversion"),
        ({"ce_time": None}, "time", "missing"),
        ({"ce_type": "no.overgang.referral.accepted.v1"}, "type", "unknown_type"),
        ({"ce_type": "com.example.unknown"}, "type", "unknown_type"),
        ({"ce_subject": "someone"}, "subject", "subject_not_taken"),
        ({"ce_partitionkey": "mine"}, "partitionkey", "extra_forbidden"),
        (
            {"ce_datacontenttype": "application/json"},
            "datacontenttype",
            "datacontenttype_in_header",
        ),
    ],
)
async def test_an_invalid_binary_event_is_a_400_naming_the_attribute(
    ingress: Ingress, changes: dict[str, str | None], field: str, code: str
) -> None:
    body, headers = _binary_request(ingress, **changes)

    response = await ingress.client.post(
        "/v1/events", content=body, headers={**headers, **ingress.school_system()}
    )

    problem = problem_of(response, 400)
    assert problem["type"].endswith("/invalid-cloudevent")
    assert [(error["field"], error["type"]) for error in problem["errors"]] == [(field, code)]
    assert problem["errors"][0]["message"]
    await nothing_more(ingress, records=0, receipts=0)


async def test_data_that_breaks_its_schema_is_a_400_that_never_repeats_the_number(
    ingress: Ingress, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    number = identity_number(years_ago(18))
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)  # a check digit off
    event = sdk_event(school=ingress.county.school, number=wrong)
    message = to_structured(event, JSON)
    body = json.loads(message.body)
    body["data"]["reason"] = "bored"
    body["data"]["favourite_colour"] = "blue"

    response = await ingress.client.post(
        "/v1/events",
        content=json.dumps(body).encode(),
        headers={**message.headers, **ingress.school_system()},
    )

    problem = problem_of(response, 400)
    fields = {error["field"]: error for error in problem["errors"]}
    assert set(fields) == {
        "data.national_identity_number",
        "data.reason",
        "data.favourite_colour",
    }
    assert fields["data.reason"]["location"] == ["body", "data", "reason"]
    assert wrong not in response.text
    assert wrong not in caplog.text
    await nothing_more(ingress, records=0, receipts=0)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (b"{not json", "(body)", "invalid_json"),
        (b"[]", "(event)", "not_object"),
        (
            b'{"specversion":"1.0","id":"6c0e4f3a-1d5e-4a55-9b8e-0f1e2d3c4b5a","source":"/s",'
            b'"type":"no.overgang.inbound.pupil_left_school.v1","time":"2026-01-01T00:00:00Z",'
            b'"data_base64":"e30="}',
            "data_base64",
            "binary_data",
        ),
    ],
)
async def test_an_unreadable_structured_event_is_a_400(
    ingress: Ingress, body: bytes, field: str, code: str
) -> None:
    response = await ingress.client.post(
        "/v1/events", content=body, headers={"Content-Type": STRUCTURED, **ingress.school_system()}
    )

    problem = problem_of(response, 400)
    assert (problem["errors"][0]["field"], problem["errors"][0]["type"]) == (field, code)
    await nothing_more(ingress, records=0, receipts=0)


async def test_a_batch_with_bad_events_is_refused_whole_naming_each(ingress: Ingress) -> None:
    good = sdk_event(school=ingress.county.school)
    unknown = sdk_event(school=ingress.county.school, type="com.example.unknown")
    no_reason = json.loads(JSON.write(sdk_event(school=ingress.county.school)))
    del no_reason["data"]["reason"]
    body = json.loads(batch_body(good, unknown, good))  # the same event twice
    body.append(no_reason)

    response = await ingress.client.post(
        "/v1/events",
        content=json.dumps(body).encode(),
        headers={"Content-Type": BATCH, **ingress.school_system()},
    )

    problem = problem_of(response, 400)
    assert "refused whole" in problem["detail"]
    assert [(e["index"], e["field"], e["type"]) for e in problem["errors"]] == [
        (1, "type", "unknown_type"),
        (2, "id", "repeated_in_batch"),
        (3, "data.reason", "missing"),
    ]
    assert problem["errors"][2]["location"] == ["body", 3, "data", "reason"]
    await nothing_more(ingress, records=0, receipts=0)


# With a body the request limits refuse it before the route; without one, the route does.
@pytest.mark.parametrize("body", [b"{}", b""])
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/merge-patch+json", None]
)
async def test_an_unsupported_content_type_is_a_415_that_says_what_is_taken(
    ingress: Ingress, content_type: str | None, body: bytes
) -> None:
    headers = ingress.school_system()
    if content_type is not None:
        headers["Content-Type"] = content_type

    response = await ingress.client.post("/v1/events", content=body, headers=headers)

    problem = problem_of(response, 415)
    # RFC 9110, 15.5.16: Accept names the media types that would have been taken.
    assert [t.strip() for t in response.headers["Accept"].split(",")] == MODES
    assert problem["accepted_media_types"] == MODES
    await nothing_more(ingress, records=0, receipts=0)


async def test_too_large_a_body_or_batch_is_a_413(ingress: Ingress) -> None:
    token = ingress.school_system()
    event = sdk_event(school=ingress.county.school)
    message = to_structured(event, JSON)
    padded = json.loads(message.body)
    padded["data"]["padding"] = "x" * (64 * 1024)

    too_large = await ingress.client.post(
        "/v1/events", content=json.dumps(padded).encode(), headers={**message.headers, **token}
    )
    too_many = await ingress.client.post(
        "/v1/events",
        content=batch_body(
            *(sdk_event(school=ingress.county.school) for _ in range(MAX_BATCH + 1))
        ),
        headers={"Content-Type": BATCH, **token},
    )

    assert problem_of(too_large, 413)["max_bytes"] == 64 * 1024
    problem = problem_of(too_many, 413)
    # RFC 9110, 15.5.14: Retry-After only when the condition is temporary, and it is not.
    assert "Retry-After" not in too_large.headers
    assert "Retry-After" not in too_many.headers
    assert problem["max_events"] == MAX_BATCH
    assert f"at most {MAX_BATCH} events" in problem["detail"]
    await nothing_more(ingress, records=0, receipts=0)


async def test_without_a_valid_token_it_is_a_401_with_a_challenge(ingress: Ingress) -> None:
    message = to_binary(sdk_event(school=ingress.county.school), JSON)

    missing = await ingress.client.post("/v1/events", content=message.body, headers=message.headers)
    forged = await ingress.client.post(
        "/v1/events",
        content=message.body,
        headers={**message.headers, "Authorization": "Bearer not.a.token"},
    )

    # RFC 9110, 15.5.2: a 401 carries a WWW-Authenticate challenge.
    problem_of(missing, 401)
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    problem_of(forged, 401)
    assert forged.headers["WWW-Authenticate"].startswith("Bearer")
    await nothing_more(ingress, records=0, receipts=0)


async def test_an_organisation_reports_only_for_itself_as_a_filer(ingress: Ingress) -> None:
    county = ingress.county
    by_id = to_binary(sdk_event(school=county.school), JSON)
    by_number = to_structured(sdk_event(school_number=SCHOOL_NUMBER), JSON)
    another_school = ingress.tokens.headers(county.lonely_school, Role.FILER)

    not_a_filer = await ingress.client.post(
        "/v1/events",
        content=by_id.body,
        headers={**by_id.headers, **ingress.school_system(Role.COUNSELLOR, Role.ADMIN)},
    )
    for_another_by_id = await ingress.client.post(
        "/v1/events", content=by_id.body, headers={**by_id.headers, **another_school}
    )
    for_another_by_number = await ingress.client.post(
        "/v1/events", content=by_number.body, headers={**by_number.headers, **another_school}
    )
    mixed = await ingress.client.post(
        "/v1/events",
        content=batch_body(sdk_event(school=county.lonely_school), sdk_event(school=county.school)),
        headers={"Content-Type": BATCH, **another_school},
    )

    assert "filer" in problem_of(not_a_filer, 403)["detail"]
    for response in (for_another_by_id, for_another_by_number):
        problem = problem_of(response, 403)
        assert problem["type"].endswith("/not-the-reporter")
        assert "reports only for itself" in problem["detail"]
    assert problem_of(mixed, 403)["indexes"] == [1]
    await nothing_more(ingress, records=0, receipts=0)


async def test_copies_sent_at_once_are_received_once(ingress: Ingress) -> None:
    event = sdk_event(school=ingress.county.school)
    message = to_structured(event, JSON)
    headers = {**message.headers, **ingress.school_system()}

    copies = [
        ingress.client.post("/v1/events", content=message.body, headers=headers) for _ in range(5)
    ]
    responses = await asyncio.gather(*copies)

    assert [response.status_code for response in responses] == [202] * 5
    assert len({response.text for response in responses}) == 1
    # One of them received it; the others waited for it, and were answered as resends.
    assert sum("Idempotent-Replayed" in response.headers for response in responses) == 4
    assert len(await ingress.records()) == 1
