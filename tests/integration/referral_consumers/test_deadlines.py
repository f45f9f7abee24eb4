"""The audit service's deadline events mark a referral overdue in the receiver's worklist,
and clear it once no deadline of it is past due and unmet."""

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
import pytest

from schemas.deadlines import DeadlineKind, DeadlineMetV1, DeadlineMissedV1
from schemas.ids import AgreementId, OrganisationId, ReferralId, SubjectId
from services.plumbing.working_days import add_working_days, end_of_day, oslo_date
from services.referral.store import worklists
from tests.integration.referral_consumers.conftest import (
    ReferralService,
    event_of,
    identity_number,
    pupil_left,
    years_ago,
)

pytestmark = pytest.mark.integration


async def _filed(service: ReferralService) -> asyncpg.Record:
    """A referral from the school to the follow-up service, filed through its consumer."""
    birth = years_ago(19)
    await service.send(pupil_left(identity_number(birth), birth))
    await service.until("SELECT count(*) FROM referrals", 1)
    row = await service.database.fetchrow("SELECT * FROM referrals")
    assert row is not None
    return row


def _deadline(
    referral: asyncpg.Record | Mapping[str, Any], due_at: dt.datetime, *, met: bool = False
) -> DeadlineMissedV1 | DeadlineMetV1:
    fields = {
        "referral_id": ReferralId(referral["referral_id"]),
        "subject_id": SubjectId(referral["subject_id"]),
        "kind": DeadlineKind.ACKNOWLEDGE,
        "due_at": due_at,
        "organisation_id": OrganisationId(referral["to_organisation_id"]),
        "agreement_id": AgreementId(referral["agreement_id"]),
        "agreement_version": referral["agreement_version"],
        "occurred_at": dt.datetime.now(dt.UTC),
    }
    if met:
        return DeadlineMetV1(**fields, met_at=dt.datetime.now(dt.UTC))
    return DeadlineMissedV1(**fields)


async def _overdue(service: ReferralService) -> list[uuid.UUID]:
    page = await worklists.received(
        service.database, service.county.follow_up_service, overdue_only=True
    )
    return [referral.referral_id for referral in page.referrals]


async def test_a_missed_deadline_puts_the_referral_on_the_overdue_list_until_it_is_met(
    referral_service: ReferralService,
) -> None:
    service = referral_service
    referral = await _filed(service)
    assert await _overdue(service) == []
    due_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)

    await service.send(event_of(_deadline(referral, due_at)), topic=service.topics.deadline)
    await service.until("SELECT overdue_since FROM referrals", due_at)
    assert await _overdue(service) == [referral["referral_id"]]

    # The receiver acknowledged it (late); its next deadline is not due yet.
    await service.database.execute("UPDATE referrals SET status = 'received', received_at = now()")
    met = _deadline(referral, due_at, met=True)
    await service.send(event_of(met), topic=service.topics.deadline)
    await service.until("SELECT overdue_since IS NULL FROM referrals", True)
    assert await _overdue(service) == []


async def test_a_met_deadline_leaves_the_referral_overdue_while_another_is_still_missed(
    referral_service: ReferralService,
) -> None:
    service = referral_service
    referral = await _filed(service)
    # It reached the follow-up service a month ago and was never acknowledged.
    addressed_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    await service.database.execute("UPDATE referrals SET addressed_at = $1", addressed_at)
    acknowledge_due = end_of_day(add_working_days(oslo_date(addressed_at), 2))
    some_other_deadline = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)

    await service.send(
        event_of(_deadline(referral, some_other_deadline)),
        event_of(_deadline(referral, some_other_deadline, met=True)),
        topic=service.topics.deadline,
    )
    await service.until("SELECT count(*) FROM inbox WHERE outcome = 'handled'", 3)

    # Still overdue: since its acknowledgement fell due, as the referral itself shows.
    since = await service.database.fetchval("SELECT overdue_since FROM referrals")
    assert since == acknowledge_due
    assert await _overdue(service) == [referral["referral_id"]]


async def test_deadlines_of_closed_or_unknown_referrals_change_nothing(
    referral_service: ReferralService,
) -> None:
    service = referral_service
    referral = await _filed(service)
    await service.database.execute("UPDATE referrals SET status = 'withdrawn'")
    unknown = dict(referral) | {"referral_id": uuid.uuid4()}
    due_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)

    await service.send(
        event_of(_deadline(referral, due_at)),
        event_of(_deadline(unknown, due_at)),
        event_of(_deadline(unknown, due_at, met=True)),
        topic=service.topics.deadline,
    )
    await service.until("SELECT count(*) FROM inbox WHERE outcome = 'handled'", 4)

    assert await service.database.fetchval("SELECT overdue_since FROM referrals") is None
    assert await service.database.fetchval("SELECT count(*) FROM referrals") == 1
