"""Foundation benchmark: how fast the local stack starts, and what the safe producer costs.

Figures, each beside its baseline from the same run, go to bench/results/foundation.json:
- stack start-up from nothing (jars already cached: storage formatted, initdb run) and warm
  (a restart of formatted data), per part;
- produce rate of the producer the services use (idempotent, acks=all) beside the baseline
  of a plain producer (acks=1, not idempotent).
It runs a stack of its own in var/bench on other ports, so a running `make up` is left alone.
"""

import asyncio
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.local import stack
from deploy.local.config import REPOSITORY, StackConfig
from deploy.local.kafka import fetch_jars

RESULTS = REPOSITORY / "bench" / "results" / "foundation.json"
RECORDS = 20_000
RECORD_BYTES = 512


def _config() -> StackConfig:
    return StackConfig(
        dir=REPOSITORY / "var" / "bench" / "stack",
        kafka_port=19092,
        kafka_controller_port=19093,
        postgres_port=55532,
    )


async def _produce_rate(bootstrap: str, topic: str, **producer_settings: Any) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, **producer_settings)
    await producer.start()
    value = os.urandom(RECORD_BYTES)
    try:
        began = time.perf_counter()
        deliveries = [
            await producer.send(topic, key=f"subject-{i % 500}".encode(), value=value)
            for i in range(RECORDS)
        ]
        await asyncio.gather(*deliveries)
        return RECORDS / (time.perf_counter() - began)
    finally:
        await producer.stop()


async def _produce_rates(bootstrap: str) -> dict[str, float]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    topics = ["bench.baseline", "bench.idempotent"]
    await admin.create_topics([NewTopic(t, num_partitions=3, replication_factor=1) for t in topics])
    await admin.close()
    # Warm the broker and the client once, so neither figure pays for the first connection.
    await _produce_rate(bootstrap, topics[0], acks=1)
    return {
        "baseline_acks1_records_per_s": await _produce_rate(bootstrap, topics[0], acks=1),
        "idempotent_acks_all_records_per_s": await _produce_rate(
            bootstrap, topics[1], acks="all", enable_idempotence=True
        ),
    }


def main() -> None:
    config = _config()
    stack.down(config)
    shutil.rmtree(config.dir, ignore_errors=True)
    fetch_jars(config)

    _, cold = stack.up(config)
    stack.down(config)
    state, warm = stack.up(config)
    try:
        assert state.kafka is not None
        rates = asyncio.run(_produce_rates(state.kafka.bootstrap))
    finally:
        stack.down(config)
        shutil.rmtree(config.dir, ignore_errors=True)

    figures = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "stack_start_s": {
            "cold": {
                **{k: round(v, 2) for k, v in cold.seconds.items()},
                "total": round(cold.total_s, 2),
            },
            "warm": {
                **{k: round(v, 2) for k, v in warm.seconds.items()},
                "total": round(warm.total_s, 2),
            },
        },
        "produce": {
            "records": RECORDS,
            "record_bytes": RECORD_BYTES,
            **{k: round(v) for k, v in rates.items()},
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"written to {Path(RESULTS).relative_to(REPOSITORY)}")


if __name__ == "__main__":
    main()
