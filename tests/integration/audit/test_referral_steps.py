"""The referral steps the consumer keeps for the statistics, on the real PostgreSQL: after a
random stream of referral events (steps logged late with earlier times, redirects across
counties, rejections, duplicates, dead letters) is logged batch by batch, the statistics read
from the kept steps are exactly those the window functions over the whole log gave; and the
migration's backfill from the log keeps exactly the rows the consumer kept."""

import datetime as dt
import math
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from schemas.codes import OrganisationType, Sector
from schemas.directory import AgreementRegisteredV1, OrganisationRegisteredV1, ServiceLevels
from schemas.envelope import CloudEvent, EventData
from schemas.referrals import (
    CancellationReason,
    ContactResult,
    Outcome,
    RedirectionReason,
    ReferralAcceptedV1,
    ReferralAssignedV1,
    ReferralCancelledV1,
    ReferralCompletedV1,
    ReferralContactRecordedV1,
    ReferralReceivedV1,
    ReferralRedirectedV1,
    ReferralRejectedV1,
    ReferralStartedV1,
    ReferralSubmittedV1,
    ReferralWithdrawnV1,
    RejectionReason,
    WithdrawalReason,
)
from services.audit.domain.entries import dead_letter_entry
from services.audit.domain.statistics import Period
from services.audit.store import statistics
from services.audit.usecases.ingest import record_dead_letter, record_events
from services.plumbing.database import Connection
from services.plumbing.migrations import migrate, migrations_folder
from tests.integration.audit import statistics_reference
from tests.integration.audit.conftest import START, actor, changed, event

pytestmark = pytest.mark.integration

TOPIC = "person"
LEVELS = ServiceLevels(
    acknowledge_within_working_days=2,
    decide_within_working_days=3,
    first_contact_within_working_days=2,
    follow_up_every_days=14,
)
_STEP_COLUMNS = """sequence, referral_id, step, occurred_at, receiver_organisation_id,
    sender_organisation_id, code, receive_hours, decide_hours, contact_hours"""


@dataclass(frozen=True)
class County:
    number: str
    organisations: dict[uuid.UUID, OrganisationType]
    agreement_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def ids(self) -> list[uuid.UUID]:
        return list(self.organisations)


def _county(number: str, *kinds: OrganisationType) -> County:
    return County(number, {uuid.uuid4(): kind for kind in kinds})


VESTLAND = _county(
    "46",
    OrganisationType.FOLLOW_UP_SERVICE,
    OrganisationType.SCHOOL,
    OrganisationType.NAV_OFFICE,
    OrganisationType.NAV_OFFICE,
)
OSLO = _county("03", OrganisationType.NAV_OFFICE, OrganisationType.CAREER_CENTRE)
# Files referrals but is not in the directory: its routes are `unknown->...`.
UNLISTED = uuid.uuid4()


def directory() -> list[EventData]:
    found: list[EventData] = []
    for county in (VESTLAND, OSLO):
        for organisation_id, kind in county.organisations.items():
            found.append(
                changed(
                    OrganisationRegisteredV1,
                    organisation_id=organisation_id,
                    county_number=county.number,
                    name="Testkontoret",
                    type=kind,
                    sector=Sector.OTHER,
                    organisation_number=None,
                )
            )
        found.append(
            changed(
                AgreementRegisteredV1,
                agreement_id=county.agreement_id,
                version=1,
                county_number=county.number,
                parties=county.ids,
                service_levels=LEVELS,
            )
        )
    return found


class Referral:
    """A referral's lifecycle, walked at random: its events with their times."""

    def __init__(self, draw: random.Random) -> None:
        self.draw = draw
        self.referral_id, self.subject_id = uuid.uuid4(), uuid.uuid4()
        home = draw.choice((VESTLAND, VESTLAND, OSLO))
        self.sender = draw.choice([*home.ids, UNLISTED])
        self.receiver = draw.choice([o for o in home.ids if o != self.sender])
        self.agreement_id = home.agreement_id
        # A referral that may leave its county keeps its steps in time order (the order the
        # referral service takes them in); one that stays may have times in any order (clocks
        # of several instances, events sent on late by other systems).
        self.crosses = draw.random() < 0.3
        self.hours = draw.uniform(0, 24 * 40)
        self.events: list[EventData] = []

    def _later(self) -> dt.datetime:
        """The next step's time, in quarter hours: later than the last (or as late, for one
        that stays in its county), or, now and then, earlier for one that stays."""
        draw = self.draw
        gaps = (0.25, 1.0, draw.uniform(0.25, 72))
        self.hours += draw.choice(gaps if self.crosses else (0.0, *gaps))
        at = self.hours
        if not self.crosses and draw.random() < 0.25:
            at -= draw.uniform(0, 48)
        return START + dt.timedelta(hours=math.floor(at * 4) / 4)

    def _fields(self, **changes: Any) -> dict[str, Any]:
        return {
            "referral_id": self.referral_id,
            "subject_id": self.subject_id,
            "from_organisation_id": self.sender,
            "to_organisation_id": self.receiver,
            "actor": actor(self.receiver),
            "occurred_at": self._later(),
        } | changes

    def _step(self, model: type[EventData], **changes: Any) -> None:
        self.events.append(changed(model, **self._fields(**changes)))

    def walk(self) -> list[EventData]:
        draw = self.draw
        self._step(
            ReferralSubmittedV1,
            agreement_id=self.agreement_id,
            agreement_version=1,
            actor=actor(self.sender),
        )
        while True:
            if draw.random() < 0.1:
                return self.events  # left as it is
            if draw.random() < 0.08:
                self._step(ReferralWithdrawnV1, reason=draw.choice(list(WithdrawalReason)))
                return self.events
            self._step(ReferralReceivedV1)
            if draw.random() < 0.3:
                self._step(ReferralAssignedV1)
            choice = draw.random()
            if choice < 0.25 and self._redirect():
                continue
            if choice < 0.45:
                self._step(ReferralRejectedV1, reason=draw.choice(list(RejectionReason)))
                return self.events
            break
        self._step(ReferralAcceptedV1)
        if draw.random() < 0.8:
            self._step(ReferralStartedV1)
        for _ in range(draw.randint(0, 4)):
            self._step(ReferralContactRecordedV1, result=draw.choice(list(ContactResult)))
        if draw.random() < 0.1:
            self._step(ReferralCancelledV1, reason=draw.choice(list(CancellationReason)))
        elif draw.random() < 0.7:
            self._step(ReferralCompletedV1, outcome=draw.choice(list(Outcome)))
        return self.events

    def _redirect(self) -> bool:
        """Sent on to another organisation (of another county, for one that may leave its
        own); False when there is none to send it to."""
        before = self.receiver
        counties = [VESTLAND, OSLO] if self.crosses else [self._county_of(before)]
        choices = [o for c in counties for o in c.ids if o not in (before, self.sender)]
        if not choices:
            return False
        self.receiver = self.draw.choice(choices)
        self._step(
            ReferralRedirectedV1,
            agreement_id=self.agreement_id,
            agreement_version=1,
            redirected_from_organisation_id=before,
            reason=self.draw.choice(list(RedirectionReason)),
            actor=actor(before),
        )
        return True

    @staticmethod
    def _county_of(organisation_id: uuid.UUID) -> County:
        return VESTLAND if organisation_id in VESTLAND.organisations else OSLO


Logged = tuple[EventData, CloudEvent]


def stream(seed: int, referrals: int) -> tuple[list[Logged], list[CloudEvent]]:
    """The referrals' events in the order they arrive (a step may arrive before the steps
    taken before it, and a few twice), and events that only ever arrive dead-lettered."""
    draw = random.Random(seed)  # noqa: S311 - test data, not secrets
    walked = [Referral(draw).walk() for _ in range(referrals)]
    events = [(data, event(data)) for steps in walked for data in steps]
    # Mostly in order, with some events held back and sent on later.
    arrived: list[Logged] = []
    held: list[Logged] = []
    for one in events:
        (held if draw.random() < 0.15 else arrived).append(one)
        if held and draw.random() < 0.1:
            arrived.append(held.pop(draw.randrange(len(held))))
    arrived += held
    arrived += draw.sample(arrived, k=len(arrived) // 20)  # delivered twice
    # Steps of referrals that never made it past the dead-letter topic, taken earlier than
    # the steps they copy (they would change the times if they counted).
    dead = []
    for steps in draw.sample(walked, k=referrals // 5):
        data = draw.choice(steps)
        fields = data.model_dump() | {"occurred_at": START - dt.timedelta(hours=5)}
        dead.append(event(type(data).model_validate(fields)))
    return arrived, dead


async def log_stream(pool: asyncpg.Pool, seed: int, referrals: int) -> None:
    """The directory, then the stream in random batches, dead letters in between, each batch
    in its own transaction as the consumer logs it."""
    draw = random.Random(seed + 1)  # noqa: S311 - test data, not secrets
    now = START + dt.timedelta(days=60)
    arrived, dead = stream(seed, referrals)
    async with pool.acquire() as connection, connection.transaction():
        await record_events(
            connection, [(data, event(data)) for data in directory()], topic=TOPIC, now=now
        )
    offset = 0
    while arrived:
        size = draw.randint(1, 40)
        batch, arrived = arrived[:size], arrived[size:]
        async with pool.acquire() as connection, connection.transaction():
            await record_events(connection, batch, topic=TOPIC, now=now)
            if dead and draw.random() < 0.3:
                offset += 1
                await record_dead_letter(
                    connection,
                    dead_letter_entry(
                        event=dead.pop(),
                        value=None,
                        headers=[("dlq.reason", b"handler failed")],
                        dead_letter_topic=f"{TOPIC}.dlq",
                        partition=0,
                        offset=offset,
                        inbound=draw.random() < 0.5,  # then logged without its payload
                        recorded_at=now,
                    ),
                )


def periods() -> list[Period]:
    first = START.date()
    return [
        Period.of(first - dt.timedelta(days=3), first + dt.timedelta(days=150)),
        Period.of(first + dt.timedelta(days=10), first + dt.timedelta(days=23)),
        Period.of(first + dt.timedelta(days=10), first + dt.timedelta(days=23)).previous(),
        Period.of(first + dt.timedelta(days=30), first + dt.timedelta(days=30)),
    ]


async def both(
    connection: Connection, **query: Any
) -> tuple[tuple[list[Any], ...], tuple[list[Any], ...]]:
    """The tallies from the kept steps and from the log, each sorted."""

    def key(tally: Any) -> tuple[Any, ...]:
        return (*tally.key.sort_key(), getattr(tally, "step", ""), getattr(tally, "code", ""))

    kept = (
        await statistics.step_tallies(connection, **query),
        await statistics.code_tallies(connection, **query),
        await statistics.deadline_tallies(connection, **query),
    )
    logged = await statistics_reference.tallies(connection, **query)
    return (
        tuple(sorted(t, key=key) for t in kept),
        tuple(sorted(t, key=key) for t in logged),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_kept_steps_give_the_statistics_the_whole_log_gave(
    pool: asyncpg.Pool, seed: int
) -> None:
    await log_stream(pool, seed, referrals=60)
    async with pool.acquire() as connection:
        assert await connection.fetchval("SELECT count(*) FROM referral_steps") > 100
        compared = 0
        for county in (VESTLAND, OSLO):
            route = f"{OrganisationType.FOLLOW_UP_SERVICE}->{OrganisationType.NAV_OFFICE}"
            for period in periods():
                for organisation_id, route_filter in (
                    (None, None),
                    (county.ids[-1], None),
                    (None, route),
                    (None, f"unknown->{OrganisationType.NAV_OFFICE}"),
                ):
                    kept, logged = await both(
                        connection,
                        county_number=county.number,
                        period=period,
                        organisation_id=organisation_id,
                        route=route_filter,
                    )
                    assert kept == logged, (county.number, period, organisation_id, route_filter)
                    compared += sum(len(t) for t in kept)
        assert compared > 50  # the stream had something to count
        # Times were measured: some of each.
        measured = await connection.fetchrow(
            """SELECT count(receive_hours) AS receive, count(decide_hours) AS decide,
                      count(contact_hours) AS contact FROM referral_steps"""
        )
        assert measured is not None
        assert min(measured.values()) > 0


async def test_the_migration_keeps_from_the_log_what_the_consumer_kept(
    pool: asyncpg.Pool,
) -> None:
    await log_stream(pool, 4, referrals=60)
    async with pool.acquire() as connection:
        kept = await connection.fetch(f"SELECT {_STEP_COLUMNS} FROM referral_steps ORDER BY 1")  # noqa: S608
        senders = await connection.fetch(
            "SELECT referral_id, sender_organisation_id FROM deadline_referrals ORDER BY 1"
        )
        assert len(kept) > 100
        assert len(senders) > 10
        assert all(row["sender_organisation_id"] is not None for row in senders)
        # Back to the schema before 0005, with the log as it is; then migrate again.
        await connection.execute(
            """DROP TABLE referral_steps;
               ALTER TABLE deadline_referrals DROP COLUMN sender_organisation_id;
               DELETE FROM schema_migrations WHERE version = 5"""
        )
        assert await migrate(connection, migrations_folder("services.audit")) == [
            "0005_referral_steps.sql"
        ]
        backfilled = await connection.fetch(
            f"SELECT {_STEP_COLUMNS} FROM referral_steps ORDER BY 1"  # noqa: S608
        )
        assert [dict(row) for row in backfilled] == [dict(row) for row in kept]
        assert [
            dict(row)
            for row in await connection.fetch(
                "SELECT referral_id, sender_organisation_id FROM deadline_referrals ORDER BY 1"
            )
        ] == [dict(row) for row in senders]
