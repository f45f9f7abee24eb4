"""Verifying the chain through the API: an intact log verifies; a byte changed in one row's
payload, behind the trigger's back, is named by its sequence number; a deleted row is named
as the gap it leaves."""

import asyncio
import json
import uuid

import asyncpg
import pytest
from fastapi.testclient import TestClient

from schemas.codes import Role
from schemas.person import ConsentGivenV1
from services.audit.consumers import AuditTopics
from services.audit.verify import main as verify_command
from services.plumbing.binding import KafkaRecord, to_record
from tests.integration.audit.conftest import Tokens, changed, event, wait_for_rows
from tests.integration.plumbing.consumer_helpers import publish
from tests.servers import Servers

pytestmark = pytest.mark.integration

ROWS = 12


@pytest.fixture
def logged(
    client: TestClient, servers: Servers, audit_topics: AuditTopics, database_url: str
) -> None:
    events = [event(changed(ConsentGivenV1, subject_id=uuid.uuid4())) for _ in range(ROWS)]
    asyncio.run(publish(servers, audit_topics.domain[0], [to_record(e) for e in events]))
    wait_for_rows(database_url, ROWS)


def verify(client: TestClient, tokens: Tokens, **params: int) -> dict[str, object]:
    response = client.get(
        "/v1/audit/verify", params=params, headers=tokens.headers(uuid.uuid4(), Role.AUDITOR)
    )
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def as_owner(database_url: str, statement: str, *arguments: object) -> None:
    """Run statements as the table's owner with the append-only triggers disabled: what a
    database administrator could do, and what the chain is there to reveal."""

    async def run() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            async with connection.transaction():
                await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
                await connection.execute(statement, *arguments)
                await connection.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
        finally:
            await connection.close()

    asyncio.run(run())


def head_hash(database_url: str) -> str:
    async def read() -> str:
        connection = await asyncpg.connect(database_url)
        try:
            found: bytes = await connection.fetchval("SELECT row_hash FROM audit_chain_head")
            return found.hex()
        finally:
            await connection.close()

    return asyncio.run(read())


def test_an_intact_log_verifies_to_its_head(
    client: TestClient, tokens: Tokens, logged: None, database_url: str
) -> None:
    result = verify(client, tokens)

    assert result == {
        "ok": True,
        "verified_rows": ROWS,
        "head_sequence": ROWS,
        "head_hash": head_hash(database_url),
        "first_bad_sequence": None,
        "problem": None,
        "checkpoint": None,
        "checkpoint_status": "none_published",
    }


def test_a_stretch_of_the_log_verifies_on_its_own(
    client: TestClient, tokens: Tokens, logged: None
) -> None:
    result = verify(client, tokens, **{"from": 4, "to": 9})

    assert (result["ok"], result["verified_rows"], result["head_sequence"]) == (True, 6, 9)


@pytest.mark.parametrize("sequence", [1, 5, ROWS])
def test_one_byte_changed_in_one_payload_is_named_by_its_sequence(
    client: TestClient, tokens: Tokens, logged: None, database_url: str, sequence: int
) -> None:
    as_owner(
        database_url,
        """UPDATE audit_log SET payload = set_byte(payload, 20, get_byte(payload, 20) # 1)
           WHERE sequence = $1""",
        sequence,
    )

    result = verify(client, tokens)

    assert result["ok"] is False
    assert result["first_bad_sequence"] == sequence
    assert result["problem"] == "payload_hash_mismatch"
    assert result["verified_rows"] == sequence - 1


def test_a_rehashed_payload_is_still_found_by_its_row_hash(
    client: TestClient, tokens: Tokens, logged: None, database_url: str
) -> None:
    as_owner(
        database_url,
        """UPDATE audit_log
           SET payload = set_byte(payload, 20, get_byte(payload, 20) # 1),
               payload_hash = sha256(set_byte(payload, 20, get_byte(payload, 20) # 1))
           WHERE sequence = 7""",
    )

    result = verify(client, tokens)

    assert (result["first_bad_sequence"], result["problem"]) == (7, "row_hash_mismatch")


def test_a_deleted_row_is_named_as_the_gap_it_leaves(
    client: TestClient, tokens: Tokens, logged: None, database_url: str
) -> None:
    as_owner(database_url, "DELETE FROM audit_log WHERE sequence = 6")

    result = verify(client, tokens)

    assert (result["first_bad_sequence"], result["problem"]) == (6, "sequence_gap")
    assert result["verified_rows"] == 5


def test_the_last_row_deleted_is_found_by_the_head(
    client: TestClient, tokens: Tokens, logged: None, database_url: str
) -> None:
    as_owner(database_url, "DELETE FROM audit_log WHERE sequence = $1", ROWS)

    result = verify(client, tokens)

    assert (result["first_bad_sequence"], result["problem"]) == (ROWS, "sequence_gap")


def test_a_stretch_after_a_deleted_row_cannot_be_anchored(
    client: TestClient, tokens: Tokens, logged: None, database_url: str
) -> None:
    as_owner(database_url, "DELETE FROM audit_log WHERE sequence = 6")

    result = verify(client, tokens, **{"from": 7})

    assert (result["first_bad_sequence"], result["problem"]) == (6, "sequence_gap")


def test_verifying_beyond_the_end_is_refused(
    client: TestClient, tokens: Tokens, logged: None
) -> None:
    response = client.get(
        "/v1/audit/verify",
        params={"from": ROWS + 5},
        headers=tokens.headers(uuid.uuid4(), Role.AUDITOR),
    )

    assert response.status_code == 422
    assert response.json()["type"] == "https://overgang.no/problems/invalid-range"


def test_the_command_verifies_and_names_the_first_bad_row(
    logged: None, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A topic of this test's own: the default one may hold a running audit service's
    # checkpoints, of another log.
    own = ["--database-url", database_url, "--checkpoint-topic", f"audit.{uuid.uuid4().hex}"]
    assert verify_command(own) == 0
    assert json.loads(capsys.readouterr().out)["verified_rows"] == ROWS

    as_owner(database_url, "DELETE FROM audit_log WHERE sequence = $1", 3)

    assert verify_command([*own, "--from", "2"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert (found["first_bad_sequence"], found["problem"]) == (3, "sequence_gap")


def test_the_service_logs_what_its_consumers_dead_letter_and_the_chain_holds(
    client: TestClient,
    tokens: Tokens,
    servers: Servers,
    audit_topics: AuditTopics,
    database_url: str,
) -> None:
    garbage = KafkaRecord(key=b"k", value=b"{not json", headers=[("ce_specversion", b"1.0")])
    asyncio.run(publish(servers, audit_topics.domain[0], [garbage]))
    wait_for_rows(database_url, 1)

    result = verify(client, tokens)

    assert (result["ok"], result["verified_rows"]) == (True, 1)
    reason = asyncio.run(_dead_letter_reason(database_url))
    assert reason["reason"] == "undecodable"
    assert reason["source_topic"] == audit_topics.domain[0]


async def _dead_letter_reason(database_url: str) -> dict[str, str]:
    connection = await asyncpg.connect(database_url)
    try:
        found: dict[str, str] = json.loads(
            await connection.fetchval("SELECT dead_letter FROM audit_log WHERE sequence = 1")
        )
        return found
    finally:
        await connection.close()
