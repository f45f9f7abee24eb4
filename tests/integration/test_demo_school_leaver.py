"""`overgang demo school-leaver` publishes what a school administration system would, with
the plain CloudEvents SDK: a record our consumers read as a valid PupilLeftSchoolV1."""

import datetime as dt
import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from deploy.local.demo import SCHOOL_SYSTEM, report_school_leaver
from schemas.inbound import PupilLeftSchoolV1
from schemas.registry import parse
from services.plumbing.binding import from_record
from tests.conftest import NewTopicFactory
from tests.servers import Servers

pytestmark = pytest.mark.integration


async def test_the_report_is_a_valid_inbound_event(
    servers: Servers, new_topic: NewTopicFactory
) -> None:
    topic = await new_topic("inbound-school")
    school = uuid.uuid4()
    event_id = await report_school_leaver(
        servers.kafka_bootstrap,
        school=school,
        birth=dt.date(2008, 10, 5),
        serial=1,
        left_at=dt.date(2026, 11, 20),
        topic=topic,
    )

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=servers.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()
    event = from_record(record.key, record.value, record.headers)
    data = parse(event)  # the inbound contract's validation, identity number included

    assert isinstance(data, PupilLeftSchoolV1)
    assert event.id == event_id
    assert event.source == SCHOOL_SYSTEM
    assert data.school_organisation_id == school
    assert data.birth_date == dt.date(2008, 10, 5)
    assert data.left_at == dt.date(2026, 11, 20)
