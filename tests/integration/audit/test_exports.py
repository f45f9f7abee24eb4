"""Exports of the log's rows, a timeline and the access log: CSV that the csv module reads back
to what the JSON export says, streamed a page at a time, scoped, and recorded as reads."""

import csv
import io
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from schemas.codes import Role
from services.audit.usecases import exports
from tests.integration.audit.conftest import Tokens
from tests.integration.audit.test_events import AUDITOR_ORG, OSLO_AUDITOR_ORG, Log, auditor, log
from tests.integration.audit.test_ledger import outbox

pytestmark = pytest.mark.integration
__all__ = ["log"]  # the fixture, shared with test_events


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of three rows, so that every export here spans several."""
    monkeypatch.setattr(exports, "PAGE", 3)


def as_csv(response: Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def as_json(response: Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    found: list[dict[str, Any]] = response.json()
    return found


def cells(item: dict[str, Any]) -> dict[str, str]:
    """A JSON export's item as its CSV row says it."""

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, list):
            return " ".join(value)
        if isinstance(value, dict):
            return json.dumps(value, sort_keys=True, separators=(",", ":"))
        return str(value)

    return {name: cell(value) for name, value in item.items()}


def test_the_log_exports_as_csv_and_json_with_the_same_rows_as_its_pages(
    client: TestClient, tokens: Tokens, log: Log
) -> None:
    headers = auditor(tokens)
    in_csv = as_csv(
        client.get("/v1/audit/exports/events", headers=headers | {"Accept": "text/csv"})
    )
    in_json = as_json(client.get("/v1/audit/exports/events?format=json", headers=headers))
    listed = client.get("/v1/audit/events", headers=headers).json()["items"]

    assert len(in_json) == len(log.in_vestland()) > exports.PAGE
    assert [item["sequence"] for item in in_json] == [item["sequence"] for item in listed]
    assert in_csv == [cells(item) for item in in_json]
    for exported, page_item in zip(in_json, listed, strict=True):
        assert exported["row_hash"] == page_item["row_hash"]
        assert exported["organisation_ids"] == page_item["organisation_ids"]
        assert exported["event_id"] == page_item["event_id"]


def test_an_export_of_the_log_takes_the_same_filters(
    client: TestClient, tokens: Tokens, log: Log
) -> None:
    params = {"subject_id": str(log.per), "type": "no.overgang.referral.accepted.v1"}
    listed = client.get("/v1/audit/events", params=params, headers=auditor(tokens)).json()
    exported = as_csv(
        client.get(
            "/v1/audit/exports/events", params=params | {"format": "csv"}, headers=auditor(tokens)
        )
    )

    assert [row["event_id"] for row in exported] == [i["event_id"] for i in listed["items"]]
    assert len(exported) == 1


def test_a_timeline_exports_as_csv_and_json_and_is_recorded_as_an_export(
    client: TestClient, tokens: Tokens, log: Log, database_url: str
) -> None:
    me = uuid.uuid4()
    headers = auditor(tokens, actor=me)
    path = f"/v1/audit/exports/timelines/{log.anna}"
    in_csv = as_csv(client.get(path, headers=headers | {"Accept": "text/csv;q=0.9, */*;q=0.1"}))
    in_json = as_json(client.get(path, headers=headers))
    timeline = client.get(f"/v1/audit/timelines/{log.anna}", headers=headers).json()["items"]

    assert in_csv == [cells(item) for item in in_json]
    assert [item["sequence"] for item in in_json] == [item["sequence"] for item in timeline]
    assert [item["data"] for item in in_json] == [item["data"] for item in timeline]
    assert {item["subject_id"] for item in in_json} == {str(log.anna)}
    assert len(in_json) == 4 > exports.PAGE  # registered, received, accepted, missed

    mine = [e for e in outbox(database_url) if e.data["actor"]["actor_id"] == str(me)]
    assert [(e.data["subject_id"], e.data["resource"]) for e in mine] == [
        (str(log.anna), "export"),
        (str(log.anna), "export"),
        (str(log.anna), "timeline"),
    ]


def test_the_access_log_exports_as_csv_and_json_and_each_person_shown_is_recorded(
    client: TestClient, tokens: Tokens, log: Log, database_url: str
) -> None:
    me = uuid.uuid4()
    headers = auditor(tokens, actor=me)
    in_csv = as_csv(client.get("/v1/audit/exports/access?format=csv", headers=headers))
    in_json = as_json(client.get("/v1/audit/exports/access", headers=headers))
    listed = client.get("/v1/audit/access", headers=auditor(tokens)).json()["items"]

    assert in_csv == [cells(item) for item in in_json]
    assert [item["access_id"] for item in in_json] == [item["access_id"] for item in listed]
    assert {item["subject_id"] for item in in_json} == {str(log.anna), str(log.per)}

    mine = [e for e in outbox(database_url) if e.data["actor"]["actor_id"] == str(me)]
    assert sorted((e.data["subject_id"], e.data["resource"]) for e in mine) == sorted(
        [(str(log.anna), "export"), (str(log.per), "export")] * 2
    )


def test_another_county_exports_nothing_of_this_one_and_a_filer_nothing_at_all(
    client: TestClient, tokens: Tokens, log: Log
) -> None:
    oslo = auditor(tokens, OSLO_AUDITOR_ORG)
    rows = as_json(client.get("/v1/audit/exports/events", headers=oslo))
    assert {row["subject_id"] for row in rows if row["subject_id"]} == {str(log.ola)}
    assert (
        as_json(client.get(f"/v1/audit/exports/events?subject_id={log.anna}", headers=oslo)) == []
    )
    hidden = client.get(f"/v1/audit/exports/timelines/{log.anna}", headers=oslo)
    assert hidden.status_code == 404
    assert hidden.headers["content-type"] == "application/problem+json"
    accessed = as_json(client.get("/v1/audit/exports/access", headers=oslo))
    assert {row["subject_id"] for row in accessed} == {str(log.ola)}

    filer = tokens.headers(AUDITOR_ORG, Role.FILER)
    for path in (
        "/v1/audit/exports/events",
        f"/v1/audit/exports/timelines/{log.anna}",
        "/v1/audit/exports/access",
    ):
        assert client.get(path, headers=filer).status_code == 403


def test_the_format_parameter_wins_over_accept_and_nothing_else_is_served(
    client: TestClient, tokens: Tokens, log: Log
) -> None:
    headers = auditor(tokens)
    path = "/v1/audit/exports/events"

    assert as_csv(
        client.get(f"{path}?format=csv", headers=headers | {"Accept": "application/json"})
    )
    assert as_json(
        client.get(path, headers=headers | {"Accept": "text/csv;q=0.5, application/json"})
    )
    refused = client.get(path, headers=headers | {"Accept": "application/xml"})
    assert refused.status_code == 406
    assert refused.headers["content-type"] == "application/problem+json"
    wrong = client.get(f"{path}?format=xlsx", headers=headers)
    assert wrong.status_code == 422
    assert [error["field"] for error in wrong.json()["errors"]] == ["format"]
