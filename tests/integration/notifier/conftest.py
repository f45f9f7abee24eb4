"""The notifier against the harness's PostgreSQL and Kafka, with a real webhook receiver on
loopback: a migrated schema of its own per test, subscriptions, events, and a delivery worker
running with quick retries."""

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

import asyncpg
import pytest

from schemas.envelope import CloudEvent
from schemas.examples import example_of
from schemas.ids import ActorId, OrganisationId
from schemas.referrals import ReferralSubmittedV1
from services.notifier.delivery.channels import ChannelSender, WebhookChannel
from services.notifier.delivery.webhooks import SenderSettings, WebhookSender
from services.notifier.delivery.worker import DeliveryWorker, WorkerSettings
from services.notifier.domain.deliveries import RetryPolicy
from services.notifier.domain.targets import check_url
from services.notifier.sealing import SecretBox
from services.notifier.usecases import subscriptions
from services.plumbing.migrations import migrate, migrations_folder
from tests.integration.notifier.receiver import Receiver, RunningReceiver
from tests.servers import Servers

BOX = SecretBox(b"k" * 32)
QUICK = RetryPolicy(max_attempts=3, base_delay_s=0.05, max_delay_s=0.2, max_retry_after_s=1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with RunningReceiver() as running:
        yield running


@pytest.fixture
def database_url(servers: Servers, schema: str) -> str:
    separator = "&" if "?" in servers.database_url else "?"
    return f"{servers.database_url}{separator}{urlencode({'search_path': schema})}"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on this test's schema, migrated like the notifier does at start-up."""
    connection = await asyncpg.connect(database_url)
    await migrate(connection, migrations_folder("services.notifier"))
    await connection.close()
    pool: asyncpg.Pool = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    yield pool
    await pool.close()


async def subscribe(
    pool: asyncpg.Pool,
    organisation: uuid.UUID,
    url: str,
    types: tuple[str, ...] = (ReferralSubmittedV1.ce_type,),
) -> tuple[uuid.UUID, str]:
    """A webhook subscription of the organisation: its id and its secret."""
    async with pool.acquire() as connection:
        created = await subscriptions.create_webhook(
            connection,
            organisation_id=OrganisationId(organisation),
            actor_id=ActorId(uuid.uuid4()),
            target=check_url(url, production=False),
            event_types=list(types),
            box=BOX,
            now=dt.datetime.now(dt.UTC),
        )
    assert created.secret is not None
    return created.subscription.subscription_id, created.secret


async def subscribe_email(
    pool: asyncpg.Pool,
    organisation: uuid.UUID,
    address: str,
    types: tuple[str, ...] = (ReferralSubmittedV1.ce_type,),
) -> uuid.UUID:
    """An e-mail subscription of the organisation: its id."""
    async with pool.acquire() as connection:
        created = await subscriptions.create_email(
            connection,
            organisation_id=OrganisationId(organisation),
            actor_id=ActorId(uuid.uuid4()),
            address=address,
            event_types=list(types),
            email_enabled=True,
            now=dt.datetime.now(dt.UTC),
        )
    return created.subscription.subscription_id


def submitted(sender: uuid.UUID, receiver: uuid.UUID) -> CloudEvent:
    """A referral.submitted event from `sender` to `receiver`."""
    data = example_of(ReferralSubmittedV1).model_copy(
        update={
            "referral_id": uuid.uuid4(),
            "subject_id": uuid.uuid4(),
            "from_organisation_id": sender,
            "to_organisation_id": receiver,
        }
    )
    return CloudEvent.of(
        data, source="/overgang/tests", event_id=uuid.uuid4(), time=dt.datetime.now(dt.UTC)
    )


@asynccontextmanager
async def running_worker(
    pool: asyncpg.Pool,
    *,
    allow_private: bool = True,
    policy: RetryPolicy = QUICK,
    per_subscription: int = 4,
    max_in_flight: int = 64,
    timeout_s: float = 5.0,
    also: tuple[ChannelSender, ...] = (),
    poll_s: float = 0.05,
) -> AsyncIterator[DeliveryWorker]:
    """A worker with quick retries: webhooks, and the channels in `also`."""
    webhooks = WebhookChannel(
        WebhookSender(
            SenderSettings(production=False, allow_private=allow_private, timeout_s=timeout_s)
        ),
        BOX,
    )
    worker = DeliveryWorker(
        pool,
        [webhooks, *also],
        policy,
        WorkerSettings(
            max_in_flight=max_in_flight,
            per_subscription=per_subscription,
            poll_s=poll_s,
            lease_s=30,
        ),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await task
