"""Every event type is registered once, on the right topic, and parses back from its envelope."""

import datetime as dt
import importlib
import inspect
import pkgutil
import re
import uuid

import pytest

import schemas
from schemas.envelope import CloudEvent, EventData
from schemas.errors import DuplicateEventType, SchemaViolation, UnknownEventType
from schemas.examples import EXAMPLES, SYNTHETIC_IDENTITY_NUMBER, example_of
from schemas.inbound import PupilLeftSchoolV1
from schemas.registry import EVENT_TYPES, MODELS, by_type, parse
from schemas.topics import TOPICS, KeyedBy

EVENT_ID = uuid.UUID("e0e0e0e0-0000-4000-8000-000000000001")
NOW = dt.datetime(2026, 9, 14, 10, 0, tzinfo=dt.UTC)


def _event_models_in_the_package() -> set[type[EventData]]:
    found: set[type[EventData]] = set()
    for module_info in pkgutil.iter_modules(schemas.__path__, "schemas."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, EventData)
                and value is not EventData
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found.add(value)
    return found


def _envelope(data: EventData) -> CloudEvent:
    return CloudEvent.of(data, source="/overgang/test", event_id=EVENT_ID, time=NOW)


def test_every_event_model_in_the_package_is_registered() -> None:
    assert _event_models_in_the_package() == set(MODELS)


def test_every_event_type_is_registered_once() -> None:
    assert len(EVENT_TYPES) == len(MODELS)
    assert set(EVENT_TYPES.values()) == set(MODELS)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_an_event_type_names_its_version_in_the_type_and_the_class(
    model: type[EventData],
) -> None:
    match = re.fullmatch(r"no\.overgang\.[a-z_]+\.[a-z_]+\.v([0-9]+)", model.ce_type)

    assert match is not None
    assert model.__name__.endswith(f"V{match.group(1)}")


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_an_event_type_lives_on_a_topic_of_its_trust_zone(model: type[EventData]) -> None:
    assert model.topic in TOPICS
    assert model.topic.inbound == model.ce_type.startswith("no.overgang.inbound.")


def test_two_models_of_one_type_are_refused() -> None:
    class AnotherPupilLeftSchoolV1(PupilLeftSchoolV1):
        pass

    with pytest.raises(DuplicateEventType, match="AnotherPupilLeftSchoolV1"):
        by_type([PupilLeftSchoolV1, AnotherPupilLeftSchoolV1])


def test_every_event_type_has_one_example() -> None:
    assert sorted(type(example).__name__ for example in EXAMPLES) == sorted(
        model.__name__ for model in MODELS
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: type(example).__name__)
def test_an_event_parses_back_from_its_envelope(example: EventData) -> None:
    assert parse(_envelope(example)) == example


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: type(example).__name__)
def test_an_event_is_keyed_by_what_its_topic_says(example: EventData) -> None:
    key = _envelope(example).partition_key
    data = example.model_dump(mode="json")

    match example.topic.keyed_by:
        case KeyedBy.SUBJECT:
            assert key == data["subject_id"]
        case KeyedBy.ORGANISATION:
            assert key == data["organisation_id"]
        case KeyedBy.AGREEMENT_OR_ORGANISATION:
            assert key in (data.get("agreement_id"), data.get("organisation_id"))
        case KeyedBy.EVENT:
            assert key == str(EVENT_ID)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: type(example).__name__)
def test_the_cloudevents_subject_is_an_id_or_absent(example: EventData) -> None:
    subject = _envelope(example).subject

    assert subject is None or uuid.UUID(subject)


def test_an_inbound_event_keeps_the_identity_number_out_of_key_and_headers() -> None:
    event = _envelope(example_of(PupilLeftSchoolV1))

    assert event.partition_key == str(EVENT_ID)
    assert event.subject is None
    assert SYNTHETIC_IDENTITY_NUMBER in event.data.values()


def test_an_unknown_type_is_refused_by_name() -> None:
    event = _envelope(example_of(PupilLeftSchoolV1)).model_copy(
        update={"type": "no.overgang.pupil.teleported.v1"}
    )

    with pytest.raises(UnknownEventType, match=r"no\.overgang\.pupil\.teleported\.v1"):
        parse(event)


def test_a_schema_violation_names_the_field_but_never_the_value() -> None:
    wrong_check_digit = SYNTHETIC_IDENTITY_NUMBER[:-1] + "1"
    event = _envelope(example_of(PupilLeftSchoolV1))
    event = event.model_copy(
        update={"data": event.data | {"national_identity_number": wrong_check_digit}}
    )

    with pytest.raises(SchemaViolation) as raised:
        parse(event)

    assert "national_identity_number" in str(raised.value)
    assert wrong_check_digit not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
