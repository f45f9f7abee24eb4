"""The referral service with its consumers, on this test's schema and on topics of its own
(so that tests running at the same time on the same broker never see each other's records);
a county in its directory: a school party to an agreement with the follow-up service, and a
school party to none."""

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastapi import FastAPI
from stdnum.no import fodselsnummer

from schemas.actors import Actor
from schemas.codes import OrganisationType, Purpose, Role, Sector
from schemas.directory import (
    AgreementRegisteredV1,
    AnOrganisation,
    LinkageLevel,
    OrganisationRegisteredV1,
    OrganisationsOfType,
    Route,
    ServiceLevels,
    Situation,
    TargetGroup,
)
from schemas.envelope import CloudEvent, EventData
from schemas.ids import ActorId, AgreementId, OrganisationId
from schemas.inbound import LeftSchoolReason, PupilLeftSchoolV1
from services.plumbing.binding import to_record
from services.plumbing.dead_letters import dead_letter_topic
from services.referral.app import ReferralSettings, create_app
from services.referral.consumers import ConsumedTopics
from services.referral.store import agreements, organisations
from tests.integration.plumbing.consumer_helpers import eventually, publish
from tests.servers import Servers

SCHOOL_NUMBER = "987654325"
SCHOOL_SOURCE = "/schools/oslo-vgs/sis"
ADMIN = Actor(actor_id=ActorId(uuid.uuid4()), organisation_id=uuid.uuid4(), role=Role.ADMIN)


@dataclass(frozen=True)
class County:
    school: OrganisationId  # party to the agreement; has SCHOOL_NUMBER
    follow_up_service: OrganisationId
    lonely_school: OrganisationId  # party to no agreement
    agreement: AgreementId


@dataclass
class ReferralService:
    """The running app, where it reads, and a connection to its schema."""

    app: FastAPI
    servers: Servers
    topics: ConsumedTopics
    database: asyncpg.Connection
    county: County

    async def send(self, *events: CloudEvent, topic: str | None = None) -> None:
        await publish(
            self.servers,
            topic or self.topics.inbound_school,
            [to_record(event) for event in events],
        )

    async def until(self, query: str, expected: object, *args: object) -> None:
        """Wait until the query's value is what is expected (the consumer is asynchronous)."""

        async def there() -> bool:
            return bool(await self.database.fetchval(query, *args) == expected)

        await eventually(there, within_s=60)


def identity_number(birth: dt.date, nth: int = 0) -> str:
    """The nth valid fødselsnummer of someone born on the day (by individual number; nothing
    reads the century from it)."""
    found = []
    for individual in range(500, 1000):
        digits = birth.strftime("%d%m%y") + f"{individual:03d}"
        number = digits + fodselsnummer.calc_check_digit1(digits)
        number += fodselsnummer.calc_check_digit2(number)
        if len(number) == 11 and fodselsnummer.is_valid(number):
            found.append(number)
    return found[nth]


def years_ago(years: int) -> dt.date:
    today = dt.date.today()
    return today.replace(year=today.year - years, day=min(today.day, 28))


def pupil_left(
    number: str,
    birth_date: dt.date | None,
    *,
    school_number: str | None = SCHOOL_NUMBER,
    school_id: OrganisationId | None = None,
) -> CloudEvent:
    """A school administration system's report, as it comes on the inbound topic."""
    data = PupilLeftSchoolV1(
        school_organisation_number=school_number if school_id is None else None,
        school_organisation_id=school_id,
        national_identity_number=number,
        birth_date=birth_date,
        left_at=dt.date.today() - dt.timedelta(days=3),
        reason=LeftSchoolReason.DROPPED_OUT,
    )
    return event_of(data, source=SCHOOL_SOURCE)


def event_of(data: EventData, *, source: str = "/overgang/audit") -> CloudEvent:
    return CloudEvent.of(data, source=source, event_id=uuid.uuid4(), time=dt.datetime.now(dt.UTC))


@pytest.fixture
async def referral_service(
    servers: Servers, schema: str, kafka_admin: AIOKafkaAdminClient
) -> AsyncIterator[ReferralService]:
    suffix = uuid.uuid4().hex[:12]
    topics = ConsumedTopics(
        inbound_school=f"test.inbound-school.{suffix}", deadline=f"test.deadline.{suffix}"
    )
    names = [topics.inbound_school, topics.deadline]
    names += [dead_letter_topic(name) for name in names]
    # One partition each: the records of a test are handled in the order sent.
    await kafka_admin.create_topics(
        [NewTopic(name, num_partitions=1, replication_factor=1) for name in names]
    )
    separator = "&" if "?" in servers.database_url else "?"
    url = f"{servers.database_url}{separator}{urlencode({'search_path': schema})}"
    settings = ReferralSettings(kafka_bootstrap=servers.kafka_bootstrap, database_url=url)
    app = create_app(settings, consumed_topics=topics)
    try:
        async with app.router.lifespan_context(app):
            await until_ready(app)
            database = await asyncpg.connect(url)
            try:
                async with database.transaction():
                    county = await register_county(database)
                yield ReferralService(app, servers, topics, database, county)
            finally:
                await database.close()
    finally:
        await kafka_admin.delete_topics(names)


async def until_ready(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://referral") as client:

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, within_s=30)


async def register_county(database: asyncpg.Connection) -> County:
    today = dt.date.today()
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)

    async def register(
        name: str, type_: OrganisationType, number: str | None = None
    ) -> OrganisationId:
        organisation_id = OrganisationId(uuid.uuid4())
        await organisations.save(
            database,
            OrganisationRegisteredV1(
                organisation_id=organisation_id,
                name=name,
                type=type_,
                sector=Sector.EDUCATION,
                organisation_number=number,
                county_number="03",
                municipality_numbers=["0301"],
                actor=ADMIN,
                occurred_at=at,
            ),
            new_id=uuid.uuid4,
        )
        return organisation_id

    school = await register("Oslo videregående skole", OrganisationType.SCHOOL, SCHOOL_NUMBER)
    follow_up = await register("Oslo oppfølgingstjeneste", OrganisationType.FOLLOW_UP_SERVICE)
    lonely = await register("Skole uten avtale", OrganisationType.SCHOOL)
    agreement_id = AgreementId(uuid.uuid4())
    await agreements.save(
        database,
        AgreementRegisteredV1(
            agreement_id=agreement_id,
            version=1,
            county_number="03",
            valid_from=today - dt.timedelta(days=30),
            parties=[school, follow_up],
            linkage_level=LinkageLevel.COOPERATION,
            routes=[
                Route(
                    from_organisation=OrganisationsOfType(
                        organisation_type=OrganisationType.SCHOOL
                    ),
                    to_organisation=AnOrganisation(organisation_id=follow_up),
                    purposes=[Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK],
                )
            ],
            target_groups=[
                TargetGroup(min_age=15, max_age=24, situations=[Situation.LEFT_UPPER_SECONDARY])
            ],
            service_levels=ServiceLevels(
                acknowledge_within_working_days=2,
                decide_within_working_days=10,
                first_contact_within_working_days=5,
                follow_up_every_days=30,
            ),
            actor=ADMIN,
            occurred_at=at,
        ),
        new_id=uuid.uuid4,
    )
    return County(school, follow_up, lonely, agreement_id)
