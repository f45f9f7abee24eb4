"""The referral and consent repositories: round trips, optimistic concurrency, the outbox in
the same transaction, and worklist pagination."""

import asyncio
import datetime as dt
import uuid

import asyncpg
import pytest

from schemas.ids import FollowUpId, ReferralId
from schemas.person import ConsentGiver
from schemas.referrals import ContactMethod
from services.referral.domain.errors import StaleVersion
from services.referral.domain.referral import Referral
from services.referral.domain.status import ReferralAction, ReferralStatus
from services.referral.store import consents, referrals, worklists
from services.referral.store.worklists import Cursor
from tests.integration.referral.conftest import KEYS
from tests.unit.referral.factories import (
    ADULT,
    COUNSELLOR,
    FOLLOW_UP_SERVICE,
    LATER,
    NAV,
    consent,
    contact,
    filed,
    in_status,
    perform,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("county")]


async def save(store: asyncpg.Connection, referral: Referral, expected_version: int) -> None:
    async with store.transaction():
        await referrals.save(
            store,
            referral,
            expected_version=expected_version,
            new_id=uuid.uuid4,
            now=LATER,
            keys=KEYS,
        )


def same(one: Referral, other: Referral) -> bool:
    return vars(one) == vars(other)


async def outbox_types(store: asyncpg.Connection) -> list[str]:
    rows = await store.fetch(
        "SELECT headers->>'ce_type' AS type FROM outbox"
        " WHERE headers->>'ce_type' LIKE 'no.overgang.referral.%' ORDER BY position"
    )
    return [row["type"] for row in rows]


async def test_a_referral_reads_back_with_its_history_contacts_and_follow_ups(
    store: asyncpg.Connection,
) -> None:
    referral = in_status(ReferralStatus.IN_PROGRESS)
    contact(referral)
    referral.record_follow_up(
        COUNSELLOR,
        follow_up_id=FollowUpId(uuid.uuid4()),
        method=ContactMethod.MEETING,
        expected_version=referral.version,
        now=LATER,
        note="Møtte opp, vil prøve arbeidstrening.",
    )
    await save(store, referral, 0)
    loaded = await referrals.get(store, referral.referral_id, KEYS)
    assert same(loaded, referral)
    assert len(loaded.history) == 6
    assert loaded.history[-1].note == "Møtte opp, vil prøve arbeidstrening."


async def test_saving_step_by_step_writes_each_step_once(store: asyncpg.Connection) -> None:
    referral = filed()
    await save(store, referral, 0)
    for action in (ReferralAction.RECEIVE, ReferralAction.ACCEPT, ReferralAction.START):
        loaded = await referrals.get(store, referral.referral_id, KEYS)
        version = loaded.version
        perform(loaded, action)
        await save(store, loaded, version)
        perform(referral, action)
        referral.drain_events()
    assert same(await referrals.get(store, referral.referral_id, KEYS), referral)
    assert await outbox_types(store) == [
        "no.overgang.referral.submitted.v1",
        "no.overgang.referral.received.v1",
        "no.overgang.referral.accepted.v1",
        "no.overgang.referral.started.v1",
    ]


async def test_a_stale_save_raises_stale_version_and_changes_nothing(
    store: asyncpg.Connection,
) -> None:
    await save(store, filed(), 0)
    first = await referrals.get(store, filed().referral_id, KEYS)
    second = await referrals.get(store, filed().referral_id, KEYS)
    perform(first, ReferralAction.RECEIVE)
    await save(store, first, 1)
    perform(second, ReferralAction.WITHDRAW)
    with pytest.raises(StaleVersion) as raised:
        await save(store, second, 1)
    assert (raised.value.expected, raised.value.actual) == (1, 2)
    stored = await referrals.get(store, filed().referral_id, KEYS)
    assert stored.status is ReferralStatus.RECEIVED
    assert [entry.version for entry in stored.history] == [1, 2]
    assert "no.overgang.referral.withdrawn.v1" not in await outbox_types(store)


async def test_a_locking_read_that_waited_for_a_change_reads_the_change_whole(
    store: asyncpg.Connection, database_url: str
) -> None:
    referral = in_status(ReferralStatus.IN_PROGRESS)
    await save(store, referral, 0)
    other = await asyncpg.connect(database_url)

    async def read_locked() -> Referral:
        async with other.transaction():
            return await referrals.get(other, referral.referral_id, KEYS, for_update=True)

    try:
        async with store.transaction():
            changing = await referrals.get(store, referral.referral_id, KEYS, for_update=True)
            version = changing.version
            contact(changing, 2)
            await referrals.save(
                store, changing, expected_version=version, new_id=uuid.uuid4, now=LATER, keys=KEYS
            )
            waiting = asyncio.create_task(read_locked())
            while not await store.fetchval(  # noqa: ASYNC110 - the server says, not an event
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1",
                other.get_server_pid(),
            ):
                await asyncio.sleep(0.01)
        loaded = await waiting
    finally:
        await other.close()
    assert same(loaded, changing)
    assert [entry.version for entry in loaded.history] == list(range(1, loaded.version + 1))


async def test_filing_the_same_referral_twice_is_stale(store: asyncpg.Connection) -> None:
    await save(store, filed(), 0)
    with pytest.raises(StaleVersion):
        await save(store, filed(), 0)
    assert await store.fetchval("SELECT count(*) FROM referrals") == 1


async def test_the_events_are_written_in_the_same_transaction_as_the_referral(
    store: asyncpg.Connection,
) -> None:
    referral = filed()
    transaction = store.transaction()
    await transaction.start()
    await referrals.save(
        store, referral, expected_version=0, new_id=uuid.uuid4, now=LATER, keys=KEYS
    )
    assert await outbox_types(store) == ["no.overgang.referral.submitted.v1"]
    await transaction.rollback()
    assert await outbox_types(store) == []
    assert await store.fetchval("SELECT count(*) FROM referrals") == 0


async def test_the_received_worklist_pages_every_referral_once_in_order(
    store: asyncpg.Connection,
) -> None:
    filed_ones: list[Referral] = []
    for n in range(7):
        referral = filed(name=f"worklist-{n}")
        # Two referrals share a time: the id breaks the tie.
        referral.addressed_at = referral.submitted_at + dt.timedelta(minutes=n // 2)
        await save(store, referral, 0)
        filed_ones.append(referral)
    expected = [
        referral.referral_id
        for referral in sorted(filed_ones, key=lambda r: (r.addressed_at, str(r.referral_id)))
    ]
    seen: list[ReferralId] = []
    cursor: Cursor | None = None
    pages = 0
    while True:
        page = await worklists.received(store, NAV.organisation_id, after=cursor, limit=3)
        pages += 1
        seen.extend(referral.referral_id for referral in page.referrals)
        if page.next_cursor is None:
            break
        cursor = Cursor.decode(page.next_cursor.encode())
    assert seen == expected
    assert pages == 3
    sent = await worklists.sent(store, FOLLOW_UP_SERVICE.organisation_id, limit=200)
    assert len(sent.referrals) == 7
    assert sent.next_cursor is None


async def test_the_worklist_filters_by_status(store: asyncpg.Connection) -> None:
    await save(store, in_status(ReferralStatus.RECEIVED, name="received"), 0)
    await save(store, in_status(ReferralStatus.SUBMITTED, name="submitted"), 0)
    page = await worklists.received(
        store, NAV.organisation_id, statuses=frozenset({ReferralStatus.RECEIVED})
    )
    assert [referral.status for referral in page.referrals] == [ReferralStatus.RECEIVED]


async def test_a_consent_and_its_withdrawal_read_back(store: asyncpg.Connection) -> None:
    given = consent(ADULT)
    async with store.transaction():
        await consents.save(store, given, new_id=uuid.uuid4, now=LATER)
    assert vars(await consents.get(store, given.consent_id)) == vars(given)
    given.withdraw(withdrawn_by=ConsentGiver.PERSON, actor=COUNSELLOR, now=LATER)
    async with store.transaction():
        await consents.save(store, given, new_id=uuid.uuid4, now=LATER)
    loaded = await consents.get(store, given.consent_id)
    assert loaded.withdrawn_at == LATER
    assert [c.consent_id for c in await consents.of_subject(store, ADULT.subject_id)] == [
        given.consent_id
    ]
    types = await store.fetch(
        "SELECT headers->>'ce_type' AS type FROM outbox"
        " WHERE headers->>'ce_type' LIKE 'no.overgang.consent.%' ORDER BY position"
    )
    assert [row["type"] for row in types] == [
        "no.overgang.consent.given.v1",
        "no.overgang.consent.withdrawn.v1",
    ]


async def test_the_open_referrals_on_a_consent_are_found_for_its_withdrawal(
    store: asyncpg.Connection,
) -> None:
    given = consent(ADULT)
    async with store.transaction():
        await consents.save(store, given, new_id=uuid.uuid4, now=LATER)
    await save(store, filed(consent=given, statutory_basis=None, name="on-consent"), 0)
    await save(store, filed(name="statutory"), 0)
    async with store.transaction():
        found = await referrals.open_depending_on_consent(store, given.consent_id, KEYS)
    assert [referral.consent_id for referral in found] == [given.consent_id]


async def test_a_note_is_stored_sealed_under_the_persons_key(store: asyncpg.Connection) -> None:
    referral = in_status(ReferralStatus.IN_PROGRESS)
    contact(referral)
    note = "Ønsker praksisplass i barnehage."
    referral.record_follow_up(
        COUNSELLOR,
        follow_up_id=FollowUpId(uuid.uuid4()),
        method=ContactMethod.MEETING,
        expected_version=referral.version,
        now=LATER,
        note=note,
    )
    await save(store, referral, 0)
    sealed = await store.fetchval(
        "SELECT sealed_note FROM referral_history WHERE sealed_note IS NOT NULL"
    )
    assert note.encode() not in sealed
    loaded = await referrals.get(store, referral.referral_id, KEYS)
    assert loaded.history[-1].note == note
