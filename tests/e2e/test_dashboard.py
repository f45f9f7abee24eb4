"""The Grafana dashboard (deploy/grafana/overgang.json) and the alert rules
(deploy/prometheus/alerts.yaml) read only metrics the running services really expose: each
service's /metrics is scraped and every metric name in the dashboard's queries and the rules'
expressions must be one of them; and promtool finds nothing wrong with what is scraped. And
the HTTP metric is labelled by route template, never by a path with ids in it."""

import json
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.config import REPOSITORY, SERVICES
from schemas.codes import Role
from tests.system import System
from tests.unit.test_deployment_files import load_yaml

pytestmark = pytest.mark.e2e

DASHBOARD = REPOSITORY / "deploy" / "grafana" / "overgang.json"
ALERTS = REPOSITORY / "deploy" / "prometheus" / "alerts.yaml"
# The series a family of each type is exposed as (the Prometheus text format).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}


def _exposed(text: str) -> set[str]:
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def _queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def _scrapes(system: System) -> dict[str, str]:
    scraped = {}
    for service in SERVICES:
        response = httpx.get(f"{system.url(service)}/metrics/", timeout=10)
        assert response.status_code == 200
        scraped[service] = response.text
    return scraped


def _rule_expressions() -> list[str]:
    (document,) = load_yaml(ALERTS)
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def test_every_metric_the_dashboard_and_the_alerts_read_is_exposed(system: System) -> None:
    exposed = set().union(*(_exposed(text) for text in _scrapes(system).values()))

    for source, queries in (("dashboard", _queries()), ("alert rules", _rule_expressions())):
        used = {name for query in queries for name in re.findall(r"\bovergang_\w+", query)}
        assert len(used) >= 8, source
        assert used <= exposed, f"{source}: not exposed by any service: {sorted(used - exposed)}"


def test_promtool_finds_nothing_wrong_with_what_the_services_expose(
    system: System, promtool: Path
) -> None:
    for service, text in _scrapes(system).items():
        checked = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True
        )
        assert checked.returncode == 0, f"{service}: {checked.stdout}{checked.stderr}"


def test_the_dashboard_has_the_panels_operations_asks_for() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    text = " ".join(_queries())
    for wanted in (
        "overgang_outbox_unsent_events",
        "overgang_consumer_lag_records",
        "overgang_dead_letters_total",
        "overgang_delivery_attempts_total",
        "overgang_deadlines_missed_total",
        "histogram_quantile(0.99",
    ):
        assert wanted in text


def test_requests_are_timed_by_route_template_without_ids(system: System) -> None:
    with system.client("referral", "follow_up", Role.COORDINATOR) as client:
        assert client.get("/v1/referrals").status_code == 200
        missing = "/v1/referrals/6f1c2a4e-0000-4000-8000-000000000000"
        assert client.get(missing).status_code == 404

    text = httpx.get(f"{system.url('referral')}/metrics/", timeout=10).text
    routes = {
        sample.labels["route"]: sample
        for family in text_string_to_metric_families(text)
        if family.name == "overgang_http_request_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_count")
    }
    assert "/v1/referrals" in routes
    assert "/v1/referrals/{referral_id}" in routes
    assert not [route for route in routes if re.search(r"[0-9a-f]{8}-[0-9a-f]{4}", route)]
