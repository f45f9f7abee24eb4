"""The service's FastStream Kafka broker and its connection."""

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaClient, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from services.plumbing.binding import KafkaRecord
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


class KafkaUnavailable(Exception):
    """Kafka did not take the records in time (or is not connected): they may not be on
    their topic. The message says which, never what the records hold."""


async def publish_and_wait(
    link: KafkaLink, records: Sequence[tuple[str, KafkaRecord]], *, timeout_s: float
) -> None:
    """Put each (topic, record) on Kafka through the service's own broker (an idempotent
    producer, acks=all) and wait until every one is acknowledged by all in-sync replicas;
    KafkaUnavailable when that does not happen within `timeout_s`.

    A timeout does not take back what was sent: a record may still reach its topic after
    KafkaUnavailable. Consumers read at least once and keep an inbox by event id, so a
    resend is safe."""
    if not records:
        return
    if not link.connected:
        raise KafkaUnavailable("Kafka is not connected")

    async def send_all() -> None:
        # All handed to the producer first, then awaited: one round trip for a batch, and
        # the idempotent producer keeps their order per partition.
        acknowledgements = [
            await link.broker.publish(
                record.value,
                topic,
                key=record.key,
                # FastStream takes text headers; CloudEvents header values are UTF-8 text.
                headers={name: value.decode() for name, value in record.headers},
                no_confirm=True,
            )
            for topic, record in records
        ]
        await asyncio.gather(*acknowledgements)

    try:
        await asyncio.wait_for(send_all(), timeout_s)
    except TimeoutError:
        raise KafkaUnavailable(f"Kafka did not acknowledge within {timeout_s:g} s") from None
    except (KafkaError, OSError) as error:
        raise KafkaUnavailable(f"Kafka refused the records ({type(error).__name__})") from None
