"""`overgang stack up` is idempotent and `down` leaves no process behind."""

from pathlib import Path

import psutil
import pytest

from deploy.local import stack
from deploy.local.config import StackConfig
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
