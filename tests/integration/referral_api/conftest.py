"""The referral service's HTTP API against the harness's PostgreSQL and Kafka: the app on a
fresh schema (it migrates the schema itself), a dev token issuer of its own, and tokens."""

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import asyncpg
import pytest
from fastapi.testclient import TestClient
from stdnum.no import fodselsnummer

from deploy.local.dev_issuer import ensure_keys, issue, jwks_file
from schemas.codes import Role
from services.referral.app import ReferralSettings, create_app
from tests.servers import Servers

if TYPE_CHECKING:
    from tests.integration.referral_api.county import County

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def database_url(servers: Servers, schema: str) -> str:
    """A URL whose connections use this test's own, empty schema."""
    separator = "&" if "?" in servers.database_url else "?"
    return f"{servers.database_url}{separator}{urlencode({'search_path': schema})}"


@dataclass(frozen=True)
class Tokens:
    """Bearer tokens from this test's own dev issuer."""

    directory: Path

    def headers(
        self, organisation: uuid.UUID, *roles: Role, actor: uuid.UUID | None = None
    ) -> dict[str, str]:
        token = issue(self.directory, organisation=organisation, roles=roles, actor=actor)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    directory = tmp_path / "dev-issuer"
    ensure_keys(directory)
    return Tokens(directory)


@pytest.fixture
def client(servers: Servers, database_url: str, tokens: Tokens) -> Iterator[TestClient]:
    """The referral app, started and ready (its schema migrated, Kafka connected)."""
    settings = ReferralSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        database_url=database_url,
        auth_jwks=str(jwks_file(tokens.directory)),
    )
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.1)
        yield client


def outbox_types(database_url: str) -> list[str]:
    """The ce_type of every event in the outbox, in the order written."""

    async def read() -> list[str]:
        connection = await asyncpg.connect(database_url)
        try:
            rows = await connection.fetch(
                "SELECT headers->>'ce_type' AS type FROM outbox ORDER BY position"
            )
        finally:
            await connection.close()
        return [row["type"] for row in rows]

    return asyncio.run(read())


def identity_number(birth: str = "010108", individual: str = "495") -> str:
    """A valid fødselsnummer for a day DDMMYY."""
    first = fodselsnummer.calc_check_digit1(birth + individual)
    second = fodselsnummer.calc_check_digit2(birth + individual + first)
    return birth + individual + first + second


def organisation_body(name: str = "Oslo oppfølgingstjeneste", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "type": "follow_up_service",
        "sector": "education",
        "county_number": "03",
        "municipality_numbers": ["0301"],
    }
    body.update(changes)
    return body


def register_organisation(
    client: TestClient, tokens: Tokens, name: str = "Oslo oppfølgingstjeneste", **changes: Any
) -> dict[str, Any]:
    """A registered organisation's entry, registered by an admin of some other organisation."""
    response = client.post(
        "/v1/organisations",
        json=organisation_body(name, **changes),
        headers=tokens.headers(uuid.uuid4(), Role.ADMIN),
    )
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    return entry


def agreement_body(parties: list[str]) -> dict[str, Any]:
    return {
        "county_number": "03",
        "valid_from": "2026-01-01",
        "parties": parties,
        "linkage_level": "cooperation",
        "routes": [
            {
                "from_organisation": {"organisation_id": parties[0]},
                "to_organisation": {"organisation_id": parties[1]},
                "purposes": ["follow_up_outside_school_and_work"],
            }
        ],
        "target_groups": [{"min_age": 15, "max_age": 24, "situations": ["left_upper_secondary"]}],
        "service_levels": {
            "acknowledge_within_working_days": 2,
            "decide_within_working_days": 10,
            "first_contact_within_working_days": 5,
            "follow_up_every_days": 30,
        },
    }


@pytest.fixture
def county(client: TestClient, tokens: Tokens) -> "County":
    """A follow-up service, two NAV offices with an agreement between them, and a person."""
    from tests.integration.referral_api.county import make_county

    return make_county(client, tokens)
