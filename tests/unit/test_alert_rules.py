"""The Prometheus alert rules (deploy/prometheus/alerts.yaml) as Prometheus's own tool reads
them: `promtool check rules`, and `promtool test rules` over alerts.test.yaml, where each alert
fires on the series that mean trouble and stays quiet on healthy ones. Every alert names its
runbook section, and that section exists. (That the metrics they read are the ones the
services expose: tests/e2e/test_dashboard.py.)"""

import re
import subprocess
from pathlib import Path
from typing import Any

from deploy.local.config import REPOSITORY
from tests.unit.test_deployment_files import load_yaml

RULES = REPOSITORY / "deploy" / "prometheus"
RUNBOOK = REPOSITORY / "docs" / "operations.md"


def test_promtool_accepts_the_rules(promtool: Path) -> None:
    checked = subprocess.run(
        [promtool, "check", "rules", "alerts.yaml"], cwd=RULES, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_alert_fires_on_trouble_and_not_on_health(promtool: Path) -> None:
    tested = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yaml"], cwd=RULES, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def _alerts() -> list[dict[str, Any]]:
    (document,) = load_yaml(RULES / "alerts.yaml")
    groups = document["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _anchor(heading: str) -> str:
    """The anchor GitHub makes of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_is_tested_and_has_a_runbook_section() -> None:
    (document,) = load_yaml(RULES / "alerts.test.yaml")
    tests = document["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    sections = {
        _anchor(line.lstrip("#"))
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## ")
    }
    for alert in _alerts():
        assert alert["alert"] in tested, f"{alert['alert']} has no promtool test"
        annotations = alert["annotations"]
        assert isinstance(annotations, dict)
        page, _, anchor = str(annotations["runbook"]).partition("#")
        assert page == "docs/operations.md"
        assert anchor in sections, f"{alert['alert']}: no section #{anchor} in the runbook"
