"""Every `overgang` command against the running system (the session's `system`: the local
stack with its services and the demo), as an operator runs it: a process, its output, its
exit code."""

import csv
import functools
import io
import json
import secrets
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from stdnum.no import orgnr

from deploy.local import demo
from deploy.local.cli.imports import AGREEMENT_COLUMNS, ORGANISATION_COLUMNS, SERVICE_LEVELS
from deploy.local.config import REPOSITORY
from deploy.local.kafka import declared_topics
from schemas.codes import Role
from schemas.topics import INBOUND_SCHOOL
from tests.system import System, until

pytestmark = pytest.mark.e2e


def overgang(system: System, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.local.cli", *arguments],
        cwd=REPOSITORY,
        env=system.cli_environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def succeeds(system: System, *arguments: str) -> str:
    done = overgang(system, *arguments)
    assert done.returncode == 0, done.stderr
    return done.stdout


def fails(system: System, *arguments: str) -> str:
    """Exit 1 with one line on stderr; that line."""
    done = overgang(system, *arguments)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.startswith("overgang: ")
    return done.stderr


def test_stack_status_and_a_token(system: System) -> None:
    status = json.loads(succeeds(system, "stack", "status", "--json"))
    started = ("referral", "notifier", "audit", "dev-oidc", "web")
    assert all(status[name].startswith("ready") for name in started)

    token = succeeds(system, "token", "--org", str(uuid.uuid4()), "--role", "admin").strip()
    assert token.count(".") == 2


def test_demo_load_is_idempotent_and_a_school_leaver_is_reported(system: System) -> None:
    loaded = json.loads(succeeds(system, "demo", "load", "--json"))
    assert loaded["created"] == 0
    assert loaded["organisations"] == {k: str(v) for k, v in system.organisations.items()}

    reported = json.loads(
        succeeds(
            system,
            "demo",
            "school-leaver",
            "--school",
            str(system.organisations["school"]),
            "--birth-date",
            "2008-10-05",
            "--serial",
            "9",
            "--json",
        )
    )
    assert uuid.UUID(reported["event_id"])


def test_topics_are_described_and_created_once(system: System) -> None:
    assert json.loads(succeeds(system, "topics", "create", "--json")) == {"created": []}

    described = json.loads(succeeds(system, "topics", "describe", "--json"))
    assert {d["topic"]: d["partitions"] for d in described} == declared_topics()
    assert all(d["replication_factor"] == 1 and d["config"] for d in described)

    (missing,) = json.loads(succeeds(system, "topics", "describe", "no.such.topic", "--json"))
    assert (missing["exists"], missing["partitions"]) == (False, None)
    assert "127.0.0.1:1" in fails(system, "topics", "create", "--bootstrap", "127.0.0.1:1")


async def _send_undecodable(system: System, key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=system.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(INBOUND_SCHOOL.name, key=key, value=b"not a CloudEvent")
    finally:
        await producer.stop()


def _letters(system: System) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        succeeds(system, "dlq", "list", INBOUND_SCHOOL.name, "--json")
    )
    return found


async def test_a_dead_letter_is_listed_shown_and_replayed(system: System) -> None:
    before = len(_letters(system))
    key = f"cli-test-{uuid.uuid4()}".encode()
    await _send_undecodable(system, key)
    until(lambda: len(_letters(system)) > before, timeout_s=60, what="the record dead-lettered")
    letter = _letters(system)[before]
    name = f"{letter['partition']}:{letter['offset']}"
    assert letter["reason"] == "undecodable"

    shown = json.loads(succeeds(system, "dlq", "show", INBOUND_SCHOOL.name, name, "--json"))
    assert (shown["key"], shown["value"]) == (key.decode(), "not a CloudEvent")
    assert shown["reason"]["source_topic"] == INBOUND_SCHOOL.name
    assert "error_class" in shown["reason"]
    assert name in succeeds(system, "dlq", "show", INBOUND_SCHOOL.name, name)
    assert "no such dead letter" in fails(system, "dlq", "show", INBOUND_SCHOOL.name, "0:999999")

    # The old name still answers.
    assert json.loads(succeeds(system, "dead-letters", "list", INBOUND_SCHOOL.name, "--json"))

    count = len(_letters(system))
    replayed = succeeds(system, "dlq", "replay", INBOUND_SCHOOL.name, name)
    assert replayed == f"replayed 1 to {INBOUND_SCHOOL.name}\n"
    # Still not a CloudEvent: it comes back to the dead letters.
    until(lambda: len(_letters(system)) > count, timeout_s=60, what="the replay dead-lettered")
    assert "name the dead letters" in fails(system, "dlq", "replay", INBOUND_SCHOOL.name)


def test_the_audit_log_verifies_and_exports(system: System, tmp_path: Path) -> None:
    verified = json.loads(
        succeeds(
            system,
            "audit",
            "verify",
            "--database-url",
            system.database("audit"),
            "--bootstrap",
            system.kafka_bootstrap,
        )
    )
    assert verified["ok"] is True
    assert verified["verified_rows"] > 0
    assert verified["bad_row"] is None

    auditor = str(system.organisations["follow_up"])
    rows = json.loads(succeeds(system, "audit", "export", "--org", auditor))
    assert [row["sequence"] for row in rows] == sorted(row["sequence"] for row in rows)
    exported = tmp_path / "events.csv"
    succeeds(system, "audit", "export", "--org", auditor, "--format", "csv", "-o", str(exported))
    assert exported.read_text().startswith("sequence,entry_id,event_id,type,")

    nobody = str(uuid.uuid4())
    refused = fails(system, "audit", "export", "timeline", "--subject", nobody, "--org", auditor)
    assert "refused the export: HTTP 404" in refused


def _directory(system: System) -> dict[str, str]:
    """name -> id of every organisation, through the API."""
    names: dict[str, str] = {}
    cursor = None
    with system.client("referral", "follow_up", Role.ADMIN) as client:
        while True:
            params = {"limit": "200"} | ({} if cursor is None else {"cursor": cursor})
            page = client.get("/v1/organisations", params=params).json()
            names |= {o["name"]: o["organisation_id"] for o in page["items"]}
            cursor = page["next_cursor"]
            if cursor is None:
                return names


def _csv(columns: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, columns)
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def _organisation_number() -> str:
    """A fresh number with a valid check digit (not one the demo or an earlier run took)."""
    while True:
        found = f"{secrets.randbelow(10**9):09d}"
        if orgnr.is_valid(found):
            return found


def test_organisations_are_imported_all_or_nothing(system: System, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    admin = str(system.organisations["follow_up"])

    def organisation(name: str, number: str = "") -> dict[str, str]:
        return {
            "name": f"{name} {run}",
            "type": "nav_office",
            "sector": "work_welfare",
            "organisation_number": number,
            "county_number": "46",
            "municipality_numbers": "4627 4626",
        }

    good = tmp_path / "good.csv"
    good.write_text(
        _csv(ORGANISATION_COLUMNS, [organisation("NAV Askøy"), organisation("NAV Øygarden")])
    )
    imported = json.loads(
        succeeds(system, "import", "organisations", str(good), "--as-org", admin, "--json")
    )
    directory = _directory(system)
    assert imported["imported"] == 2
    assert imported["organisation_ids"] == [
        directory[f"NAV Askøy {run}"],
        directory[f"NAV Øygarden {run}"],
    ]

    # Through the referral service's outbox, as any registration: the audit logs the events.
    def registered(organisation_id: str) -> bool:
        with system.client("audit", "follow_up", Role.AUDITOR) as client:
            page = client.get("/v1/audit/events", params={"organisation_id": organisation_id})
        types = [row["type"] for row in page.json()["items"]]
        return types == ["no.overgang.organisation.registered.v1"]

    for organisation_id in imported["organisation_ids"]:
        until(
            functools.partial(registered, organisation_id),
            timeout_s=60,
            what=f"organisation {organisation_id}'s registration in the audit log",
        )

    # The second row is good on its own, but its number is the first's: the service refuses
    # it, and the first is not imported either.
    number = _organisation_number()
    taken = tmp_path / "taken.csv"
    taken.write_text(
        _csv(
            ORGANISATION_COLUMNS,
            [organisation("NAV Fjell", number), organisation("NAV Sund", number)],
        )
    )
    done = overgang(system, "import", "organisations", str(taken), "--as-org", admin)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{taken}:3: another organisation is registered under this organisation number",
        f"overgang: nothing of {taken} was imported: 1 bad row(s)",
    ]
    assert not {f"NAV Fjell {run}", f"NAV Sund {run}"} & set(_directory(system))


def _agreement_row(body: dict[str, Any]) -> dict[str, str]:
    return {
        "county_number": body["county_number"],
        "valid_from": body["valid_from"],
        "valid_until": "",
        "parties": " ".join(body["parties"]),
        "linkage_level": body["linkage_level"],
        "lead_organisation_id": "",
        "routes": json.dumps(body["routes"]),
        "target_groups": json.dumps(body["target_groups"]),
        "guardian_consent_below_age": "18",
        **{level: str(body["service_levels"][level]) for level in SERVICE_LEVELS},
    }


def _agreements_of(system: System, organisation: str) -> set[str]:
    with system.client("referral", organisation, Role.ADMIN) as client:
        page = client.get("/v1/agreements", params={"limit": "200"}).json()
    return {a["agreement_id"] for a in page["items"]}


def test_agreements_are_imported_all_or_nothing(system: System, tmp_path: Path) -> None:
    body = demo._agreements(system.organisations)["school_to_follow_up"]
    before = _agreements_of(system, "school")

    good = tmp_path / "good.csv"
    good.write_text(_csv(AGREEMENT_COLUMNS, [_agreement_row(body)]))
    imported = json.loads(succeeds(system, "import", "agreements", str(good), "--json"))
    (agreement_id,) = imported["agreement_ids"]
    assert _agreements_of(system, "school") == before | {agreement_id}

    stranger = str(uuid.uuid4())
    unknown_party = _agreement_row({**body, "parties": [*body["parties"], stranger]})
    bad = tmp_path / "bad.csv"
    bad.write_text(_csv(AGREEMENT_COLUMNS, [_agreement_row(body), unknown_party]))
    done = overgang(system, "import", "agreements", str(bad), "--json")
    assert done.returncode == 1
    (problem,) = json.loads(done.stdout)["problems"]
    assert problem["line"] == 3
    assert stranger in problem["problem"]
    assert _agreements_of(system, "school") == before | {agreement_id}


def test_a_persons_data_is_exported(system: System, tmp_path: Path) -> None:
    with system.client("referral", "follow_up", Role.COORDINATOR) as client:
        worklist = client.get("/v1/referrals", params={"box": "sent"}).json()["items"]
    subject = worklist[0]["subject_id"]
    follow_up = str(system.organisations["follow_up"])

    exported = json.loads(succeeds(system, "subjects", "export", subject, "--org", follow_up))
    assert exported["subject_id"] == subject
    assert exported["personal_data"]["identity_number"]
    assert {r["subject_id"] for r in exported["referrals"]} == {subject}

    into = tmp_path / "export.json"
    succeeds(system, "subjects", "export", subject, "--org", follow_up, "-o", str(into))
    assert json.loads(into.read_text())["subject_id"] == subject
    assert into.stat().st_mode & 0o077 == 0

    refused = fails(system, "subjects", "export", str(uuid.uuid4()), "--org", follow_up)
    assert "refused the export: HTTP 404" in refused


def test_outbox_status_per_service(system: System) -> None:
    status = json.loads(succeeds(system, "outbox", "status", "--json"))

    assert list(status) == ["referral", "notifier", "audit"]
    assert all(isinstance(s["waiting"], int) for s in status.values())
    assert status["referral"]["last_published_at"] is not None
    table = succeeds(system, "outbox", "status", "referral")
    assert "referral" in table
    assert "waiting" in table
