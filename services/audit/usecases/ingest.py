"""Recording what is consumed: each event or dead-lettered record becomes one row of the log,
and the events the audit service reads from (directory, access, referrals) update its views,
the referrals' deadlines and the steps the statistics count, in the same transaction as the
consumer's inbox row."""

import datetime as dt
from collections.abc import Sequence

from schemas.access import PersonalDataAccessedV1
from schemas.directory import (
    AgreementAmendedV1,
    AgreementRegisteredV1,
    AgreementTerminatedV1,
    OrganisationRegisteredV1,
    OrganisationUpdatedV1,
)
from schemas.envelope import CloudEvent, EventData
from schemas.topics import DEADLINE
from services.audit.domain.chain import ChainRow, Entry
from services.audit.domain.deadlines import Step, step_of
from services.audit.domain.entries import event_entry
from services.audit.domain.handoffs import HandoffStep, handoff_step
from services.audit.store import access, directory, log
from services.audit.usecases import deadlines, statistics
from services.plumbing.database import Connection


async def record_event(
    connection: Connection,
    data: EventData,
    event: CloudEvent,
    *,
    topic: str,
    now: dt.datetime,
    deadline_topic: str = DEADLINE.name,
) -> ChainRow | None:
    """Append the event to the log and update the views it feeds; None when it was logged
    before (nothing is done twice). Deadline notices go to `deadline_topic`."""
    [row] = await record_events(
        connection, [(data, event)], topic=topic, now=now, deadline_topic=deadline_topic
    )
    return row


async def record_events(
    connection: Connection,
    events: Sequence[tuple[EventData, CloudEvent]],
    *,
    topic: str,
    now: dt.datetime,
    deadline_topic: str = DEADLINE.name,
) -> list[ChainRow | None]:
    """What `record_event` does for each event in turn, done for them all at once: one append
    of every row, and the referral steps' deadlines in bulk (a view-feeding event in between
    takes its turn, so that order holds), and their statistics in bulk (which no view feeds)."""
    rows = await log.append_all(
        connection, [event_entry(event, topic=topic, recorded_at=now) for _, event in events]
    )
    steps: list[Step] = []
    counted: list[HandoffStep] = []
    for (data, _), row in zip(events, rows, strict=True):
        if row is None:
            continue
        if (handoff := handoff_step(data, row.sequence)) is not None:
            counted.append(handoff)
        if (step := step_of(data)) is not None:
            steps.append(step)
        elif _feeds_views(data):
            await deadlines.take_referral_steps(connection, steps, topic=deadline_topic, now=now)
            steps = []
            await _update_views(connection, data, row, deadline_topic=deadline_topic, now=now)
    await deadlines.take_referral_steps(connection, steps, topic=deadline_topic, now=now)
    await statistics.count_steps(connection, counted)
    return rows


_VIEW_EVENTS = (
    OrganisationRegisteredV1,
    OrganisationUpdatedV1,
    AgreementRegisteredV1,
    AgreementAmendedV1,
    AgreementTerminatedV1,
    PersonalDataAccessedV1,
)


def _feeds_views(data: EventData) -> bool:
    return isinstance(data, _VIEW_EVENTS)


async def _update_views(
    connection: Connection, data: EventData, row: ChainRow, *, deadline_topic: str, now: dt.datetime
) -> None:
    """The directory, the agreements' service levels and the access log, from their events."""
    match data:
        case OrganisationRegisteredV1() | OrganisationUpdatedV1():
            await directory.save_organisation(connection, data)
        case AgreementRegisteredV1() | AgreementAmendedV1():
            await directory.save_agreement(connection, data)
            await deadlines.learn_service_levels(
                connection,
                data.agreement_id,
                data.version,
                data.service_levels,
                topic=deadline_topic,
                now=now,
            )
        case AgreementTerminatedV1():
            await directory.terminate_agreement(connection, data)
        case PersonalDataAccessedV1():
            await access.save(connection, data, sequence=row.sequence)


async def record_dead_letter(connection: Connection, entry: Entry) -> ChainRow | None:
    """Append a dead-lettered record to the log; None when it was logged before."""
    return await log.append(connection, entry)
