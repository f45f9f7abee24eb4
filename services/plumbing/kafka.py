"""The service's FastStream Kafka broker and its connection."""

import asyncio
import logging

from aiokafka import AIOKafkaClient, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from services.plumbing.settings import ServiceSettings

log = logging.getLogger(__name__)


async def metadata_answers(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True when a broker at `bootstrap` answers a metadata request."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await client.bootstrap()
    except KafkaError:
        return False
    finally:
        await client.close()
    return True


async def partitions_of(bootstrap: str, topic: str) -> list[TopicPartition]:
    """The partitions of `topic`, none if it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(TopicPartition(topic, p["partition"]) for p in description["partitions"])


def create_broker(settings: ServiceSettings) -> KafkaBroker:
    """The service's broker; what it publishes itself goes through an idempotent producer
    that waits for every in-sync replica (events go through the outbox relay instead)."""
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=f"overgang-{settings.service_name}",
        enable_idempotence=True,
        acks="all",
    )


class KafkaLink:
    """Keeps trying to start the broker until Kafka answers, so that a service starts (and
    says it is not ready) while Kafka is down, instead of crashing."""

    def __init__(self, broker: KafkaBroker, bootstrap: str, retry_s: float) -> None:
        self.broker = broker
        self.bootstrap = bootstrap
        self.retry_s = retry_s
        self.connected = False
        self._task: asyncio.Task[None] | None = None

    async def _connect(self) -> None:
        while True:
            # Probe first: a broker whose start fails leaves its producer behind.
            if not await metadata_answers(self.bootstrap):
                log.warning("Kafka at %s does not answer yet; retrying", self.bootstrap)
                await asyncio.sleep(self.retry_s)
                continue
            try:
                await self.broker.start()
            except (KafkaError, OSError) as error:
                log.warning("Kafka is not reachable yet (%s); retrying", type(error).__name__)
                await self.broker.stop()
                await asyncio.sleep(self.retry_s)
            else:
                self.connected = True
                log.info("connected to Kafka")
                return

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name="kafka-connect")

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        await self.broker.stop()

    async def answers(self, timeout_s: float) -> bool:
        return self.connected and await self.broker.ping(timeout_s)
