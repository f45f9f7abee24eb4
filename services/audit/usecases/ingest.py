"""Recording what is consumed: each event or dead-lettered record becomes one row of the log,
and the events the audit service reads from (directory, access, referrals) update its views
and the referrals' deadlines, in the same transaction as the consumer's inbox row."""

import datetime as dt

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
from services.audit.domain.deadlines import step_of
from services.audit.domain.entries import event_entry
from services.audit.store import access, directory, log
from services.audit.usecases import deadlines
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
    row = await log.append(connection, event_entry(event, topic=topic, recorded_at=now))
    if row is None:
        return None
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
        case _ if (step := step_of(data)) is not None:
            await deadlines.take_referral_step(connection, step, topic=deadline_topic, now=now)
    return row


async def record_dead_letter(connection: Connection, entry: Entry) -> ChainRow | None:
    """Append a dead-lettered record to the log; None when it was logged before."""
    return await log.append(connection, entry)
