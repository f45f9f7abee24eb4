"""Inbound events taken over HTTP (POST /v1/events) from systems that cannot speak Kafka, and
put on the inbound topic just as such a system would put them there itself: from then on the
referral service's consumers handle them as any other inbound event.

- Only inbound types are taken, their data valid by the type's model, with no CloudEvents
  `subject` (on Kafka it would be a header, and an inbound event's subject could name the
  person). A request is checked whole before anything is done: one bad event in a batch
  refuses the batch, naming each bad event by its index.
- An organisation reports for itself only: the organisation an event is about (for "pupil
  left school", the school) must be the caller's.
- Once by CloudEvents id and source: a receipt is written in the transaction that publishes,
  and committed only once Kafka acknowledged every event of the request. A resend gets the
  first answer and publishes nothing; the same id and source with another event is refused.
  The receipt keeps a keyed hash of the event, never the event (it may hold an identity
  number)."""

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import asyncpg
from pydantic import ValidationError

from schemas.envelope import CloudEvent, EventData
from schemas.ids import OrganisationId
from schemas.inbound import PupilLeftSchoolV1
from schemas.registry import EVENT_TYPES
from schemas.topics import KeyedBy
from services.plumbing.auth import Principal
from services.plumbing.binding import to_record
from services.plumbing.database import Connection
from services.plumbing.http_binding import EventProblem, InvalidCloudEvents
from services.plumbing.kafka import KafkaLink, publish_and_wait
from services.plumbing.telemetry import trace_headers
from services.referral.crypto import StoreKeys
from services.referral.store import receipts, school_leavers
from services.referral.store.receipts import Receipt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reporter:
    """The organisation an inbound event is reported by: by its id or by its number."""

    organisation_id: OrganisationId | None = None
    organisation_number: str | None = None


def _school(data: EventData) -> Reporter:
    assert isinstance(data, PupilLeftSchoolV1)
    return Reporter(data.school_organisation_id, data.school_organisation_number)


# Each inbound type this door takes, with who may report it. A new inbound type is taken
# only once it says here whose it is.
REPORTED_BY: dict[type[EventData], Callable[[EventData], Reporter]] = {
    PupilLeftSchoolV1: _school,
}
TAKEN_TYPES: dict[str, type[EventData]] = {
    ce_type: model
    for ce_type, model in EVENT_TYPES.items()
    if model.topic.inbound and model.topic.keyed_by is KeyedBy.EVENT and model in REPORTED_BY
}


class NotTheReporter(Exception):
    """Events about another organisation than the caller's (403); names them by index."""

    def __init__(self, indexes: Sequence[int], batch: bool) -> None:
        self.indexes = list(indexes)
        which = f"events at index {', '.join(map(str, indexes))} are" if batch else "the event is"
        super().__init__(
            f"{which} about another organisation than yours: an organisation reports only "
            "for itself (for a pupil who left school: the school)"
        )


class EventIdTaken(Exception):
    """Another event was received before under the same id and source (409)."""

    def __init__(self, indexes: Sequence[int], batch: bool) -> None:
        self.indexes = list(indexes)
        which = f"events at index {', '.join(map(str, indexes))}" if batch else "the event"
        super().__init__(
            f"a different event was received before with the id and source of {which}: "
            "ids must be unique per source; give a new event a new id"
        )


@dataclass(frozen=True)
class Checked:
    """An event that passed every check of its own, with its data as its type's model."""

    index: int
    event: CloudEvent
    data: EventData


@dataclass(frozen=True)
class Received:
    """What became of a request's events: their receipts, in order, and whether every one
    of them had been received before (a resend)."""

    receipts: list[Receipt]
    resent: bool


def check(events: Sequence[CloudEvent], *, batch: bool) -> list[Checked]:
    """Every event's own checks, all of them before anything is done; InvalidCloudEvents
    naming each event that fails and why."""
    problems: list[EventProblem] = []
    checked: list[Checked] = []
    seen: dict[tuple[str, str], int] = {}

    def where(index: int, *rest: str) -> tuple[str | int, ...]:
        return ("body", index, *rest) if batch else ("body", *rest)

    for index, event in enumerate(events):
        at = index if batch else None
        key = (event.source, str(event.id))
        if key in seen:
            problems.append(
                EventProblem(
                    at,
                    "id",
                    where(index, "id"),
                    f"the batch holds this id and source at index {seen[key]} already",
                    "repeated_in_batch",
                )
            )
            continue
        seen[key] = index
        model = TAKEN_TYPES.get(event.type)
        if model is None:
            problems.append(
                EventProblem(
                    at,
                    "type",
                    where(index, "type"),
                    "not an event type this door takes; it takes: " + ", ".join(TAKEN_TYPES),
                    "unknown_type",
                )
            )
            continue
        if event.subject is not None:
            problems.append(
                EventProblem(
                    at,
                    "subject",
                    where(index, "subject"),
                    "inbound events carry no subject: on Kafka it would be a header, and "
                    "headers must never name the person",
                    "subject_not_taken",
                )
            )
            continue
        try:
            data = model.model_validate(event.data)
        except ValidationError as error:
            # Without the input: the data may hold an identity number.
            for item in error.errors(include_url=False, include_context=False, include_input=False):
                field = ".".join(str(part) for part in item["loc"])
                problems.append(
                    EventProblem(
                        at,
                        "data" + (f".{field}" if field else ""),
                        (*where(index, "data"), *map(str, item["loc"])),
                        item["msg"],
                        item["type"],
                    )
                )
            continue
        checked.append(Checked(index, event, data))
    if problems:
        raise InvalidCloudEvents(problems)
    return checked


def fingerprint(event: CloudEvent, keys: StoreKeys) -> bytes:
    """A keyed hash of the event as it will be published, the same whatever the content mode
    or order of members it came in. Keyed, so that a stored fingerprint of data with an
    identity number cannot be brute-forced back to the number."""
    canonical = json.dumps(
        event.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    message = b"\0".join((b"inbound-event", canonical.encode()))
    return hmac.new(keys.index_key, message, hashlib.sha256).digest()


async def receive(
    pool: asyncpg.Pool,
    link: KafkaLink,
    principal: Principal,
    events: Sequence[Checked],
    *,
    batch: bool,
    keys: StoreKeys,
    topics: Mapping[str, str],
    publish_timeout_s: float,
    now: dt.datetime,
) -> Received:
    """Receive checked events from the caller's organisation: put the new ones on their
    topic and record them, or refuse the whole request (NotTheReporter, EventIdTaken,
    KafkaUnavailable: nothing is recorded)."""
    async with pool.acquire() as connection, connection.transaction():
        others = [
            checked.index
            for checked in events
            if not await _reports_for(connection, checked.data, principal.organisation_id)
        ]
        if others:
            raise NotTheReporter(others, batch)
        # Claimed in one order, so that two requests with the same events never deadlock.
        ordered = sorted(events, key=lambda c: (c.event.source, str(c.event.id)))
        found: dict[int, Receipt] = {}
        new: list[Checked] = []
        taken: list[int] = []
        for checked in ordered:
            receipt = Receipt(
                source=checked.event.source,
                event_id=checked.event.id,
                event_type=checked.event.type,
                fingerprint=fingerprint(checked.event, keys),
                sent_by=principal.organisation_id,
                topic=topics.get(checked.data.topic.name, checked.data.topic.name),
                received_at=now,
            )
            before = await receipts.claim(connection, receipt)
            if before is None:
                found[checked.index] = receipt
                new.append(checked)
            elif before.fingerprint != receipt.fingerprint:
                taken.append(checked.index)
            else:
                found[checked.index] = before
        if taken:
            raise EventIdTaken(sorted(taken), batch)
        new.sort(key=lambda c: c.index)
        trace = {name: value.encode() for name, value in trace_headers().items()}
        await publish_and_wait(
            link,
            [(found[c.index].topic, to_record(c.event, trace)) for c in new],
            timeout_s=publish_timeout_s,
        )
    for checked in new:
        # Ids, type and source only: the data may hold an identity number.
        log.info(
            "inbound event %s (%s) from %s received from organisation %s",
            checked.event.id,
            checked.event.type,
            checked.event.source,
            principal.organisation_id,
        )
    return Received([found[c.index] for c in events], resent=bool(events) and not new)


async def _reports_for(
    connection: Connection, data: EventData, organisation_id: OrganisationId
) -> bool:
    reporter = REPORTED_BY[type(data)](data)
    if reporter.organisation_id is not None:
        return reporter.organisation_id == organisation_id
    if reporter.organisation_number is None:
        return False
    found = await school_leavers.organisation_with_number(connection, reporter.organisation_number)
    return found == organisation_id
