"""`overgang stack up` is idempotent and `down` leaves no process behind."""

import socket
from pathlib import Path

import psutil
import pytest

from deploy.local import stack
from deploy.local.config import StackConfig
from deploy.local.errors import StackError
from deploy.local.state import StackState
from schemas.topics import TOPICS
from tests.servers import free_port

pytestmark = pytest.mark.integration


def test_up_twice_starts_once_and_down_stops_exactly_what_it_started(tmp_path: Path) -> None:
    # A stack of its own, beside the one the other tests use.
    config = StackConfig(
        dir=tmp_path / "stack",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        postgres_port=free_port(),
    )
    try:
        first, report = stack.up(config)
        assert report.started == ["kafka", "postgres"]
        assert {topic.name for topic in TOPICS} <= set(report.topics_created)
        assert {topic.dead_letters for topic in TOPICS} <= set(report.topics_created)
        assert first.kafka is not None
        assert first.postgres is not None
        assert first.kafka.process is not None
        assert first.postgres.process is not None
        pids = [first.kafka.process.pid, first.postgres.process.pid]
        assert set(first.postgres.databases) == {"referral", "notifier", "audit", "overgang_test"}

        again, report = stack.up(config)
        assert report.started == []
        assert report.already_running == ["kafka", "postgres"]
        assert report.topics_created == []
        assert again.model_dump() == first.model_dump()
        assert stack.status(config)["kafka"] == f"running at 127.0.0.1:{config.kafka_port}"
    finally:
        stopped = stack.down(config)

    assert stopped == ["kafka", "postgres"]
    assert not [pid for pid in pids if psutil.pid_exists(pid)]
    assert not config.state_file.exists()
    assert stack.status(config)["kafka"] == "not started"


def test_a_service_that_cannot_start_leaves_none_of_the_others_behind(tmp_path: Path) -> None:
    """The demo receiver's port taken: `up` fails, and the referral service it had started
    before is recorded, so that `down` stops it (it was left running unrecorded)."""
    config = StackConfig(
        dir=tmp_path / "stack",
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        postgres_port=free_port(),
        referral_port=free_port(),
        notifier_port=free_port(),
        audit_port=free_port(),
        webhook_receiver_port=free_port(),
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", config.webhook_receiver_port))
        taken.listen()
        try:
            with pytest.raises(StackError, match="already in use"):
                stack.up(config, with_services=True)
            state = StackState.load(config.state_file)
            started = [service.process.pid for service in state.services.values()]
            assert "referral" in state.services
        finally:
            stack.down(config)

    assert started
    assert not [pid for pid in started if psutil.pid_exists(pid)]
