"""The deployment files pass the standards' own validators (hadolint, the compose
specification, kubernetes-validate) and match what the services really read, serve and
publish: their settings, ports, health paths and topics. Nothing is built or run here (no
Docker): the files are read, and the validators are the dev dependencies in uv.lock."""

import base64
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from ruamel.yaml import YAML
from starlette.routing import Mount

from schemas.topics import TOPICS
from services.audit.app import AuditSettings
from services.audit.app import create_app as create_audit
from services.notifier.app import NotifierSettings
from services.notifier.app import create_app as create_notifier
from services.plumbing.dead_letters import dead_letter_topic
from services.plumbing.outbox import RelaySettings
from services.plumbing.settings import ServiceSettings
from services.referral.app import ReferralSettings
from services.referral.app import create_app as create_referral

REPOSITORY = Path(__file__).resolve().parents[2]
DEPLOY = REPOSITORY / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
COMPOSE_DIR = DEPLOY / "compose"
K8S = DEPLOY / "k8s"
KAFKA_TOPIC_SCHEMA = K8S / "schemas" / "kafkatopic-v1beta2.json"
KAFKA_TOPIC_API = "kafka.strimzi.io/v1beta2"

SETTINGS: dict[str, type[ServiceSettings]] = {
    "referral": ReferralSettings,
    "notifier": NotifierSettings,
    "audit": AuditSettings,
}
SERVICES = tuple(SETTINGS)
KINDS = ("compose", "k8s")

# The base settings' validator refuses these fields' defaults in production.
NEEDED_IN_PRODUCTION = frozenset({"auth_issuer", "auth_jwks"})
READINESS_PATH = "/readyz"
LIVENESS_PATH = "/healthz"


# --- running the validators -----------------------------------------------------------------


def tool(name: str, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
    """Run a validator installed beside this interpreter (the project's virtualenv)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found is not None, f"{name} is not installed: run `uv sync --frozen` (dev group)"
    return subprocess.run(
        [found, *map(str, arguments)], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_dockerfile_passes_hadolint() -> None:
    result = tool("hadolint", "--failure-threshold", "warning", DOCKERFILE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_file_follows_the_compose_specification() -> None:
    result = tool("check-jsonschema", "--builtin-schema", "vendor.compose-spec", COMPOSE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_kubernetes_manifests_pass_kubernetes_validate_strictly() -> None:
    files = sorted(K8S.glob("*.yaml"))
    result = tool("kubernetes-validate", "--strict", *files)
    lines = result.stdout.splitlines()

    assert result.returncode == 0, result.stdout + result.stderr
    # It passes a kind it has no schema for with a warning: only Strimzi's KafkaTopic may be
    # one (checked against its own schema below); any other would not have been validated.
    unvalidated = [
        line
        for line in lines
        if line.startswith("WARN")
        and f"kind KafkaTopic with api version {KAFKA_TOPIC_API}" not in line
    ]
    assert unvalidated == []
    passed = [line for line in lines if line.startswith("INFO") and " passed " in line]
    others = [r for r in manifests() if r["kind"] != "KafkaTopic"]
    assert len(passed) == len(others), result.stdout


def test_the_kafka_topics_pass_their_schema(tmp_path: Path) -> None:
    checked = tool("check-jsonschema", "--check-metaschema", KAFKA_TOPIC_SCHEMA)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # check-jsonschema reads one document per file.
    files = []
    for number, topic in enumerate(kafka_topics()):
        path = tmp_path / f"topic-{number}.json"
        path.write_text(json.dumps(topic))
        files.append(path)
    assert files

    result = tool("check-jsonschema", "--schemafile", KAFKA_TOPIC_SCHEMA, *files)

    assert result.returncode == 0, result.stdout + result.stderr


# --- topics ---------------------------------------------------------------------------------


def declared_topics() -> dict[str, int]:
    """Every topic the services use, with its partitions: the declared ones, their dead-letter
    topics (one partition, as `overgang stack up` makes them) and the relays' progress topic."""
    return (
        {topic.name: topic.partitions for topic in TOPICS}
        | {dead_letter_topic(topic.name): 1 for topic in TOPICS}
        | {RelaySettings.progress_topic: 1}
    )


def test_there_is_one_kafka_topic_per_topic_with_its_partitions() -> None:
    found = [(t["spec"]["topicName"], t["spec"]["partitions"]) for t in kafka_topics()]

    assert len(found) == len({name for name, _ in found}), "a topic is defined twice"
    assert dict(found) == declared_topics()


def test_compose_creates_every_topic_with_its_partitions() -> None:
    script = (COMPOSE_DIR / "create-topics.sh").read_text()
    found = re.findall(r"^create (\S+) (\d+)$", script, flags=re.MULTILINE)
    topics = compose()["services"]["topics"]

    assert len(found) == len({name for name, _ in found}), "a topic is created twice"
    assert {name: int(partitions) for name, partitions in found} == declared_topics()
    assert "./compose/create-topics.sh:/create-topics.sh:ro" in topics["volumes"]
    assert topics["entrypoint"][-1] == "/create-topics.sh"


# --- settings -------------------------------------------------------------------------------


@dataclasses.dataclass
class Deployment:
    """One service as a deployment file runs it."""

    # OVERGANG_* variable → its value, or None when it is given at deploy time (a secret, a
    # reference, a required substitution).
    environment: dict[str, str | None]
    # How each variable given at deploy time is given: "substitution", "secretKeyRef", ...
    given_by: dict[str, str]
    container_ports: list[int]
    health_checks: dict[str, tuple[str, int | str]]  # what → (path, port)


def env_name(settings: type[ServiceSettings], field: str) -> str:
    return f"{settings.model_config.get('env_prefix', '')}{field}".upper()


def deployment(kind: str, service: str) -> Deployment:
    return compose_deployment(service) if kind == "compose" else k8s_deployment(service)


def dockerfile_environment() -> dict[str, str]:
    """OVERGANG_* variables the images set (the shared base stage)."""
    return dict(re.findall(r"\b(OVERGANG_[A-Z0-9_]+)=(\S+)", DOCKERFILE.read_text()))


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_variable_set_is_a_setting_of_the_service(kind: str, service: str) -> None:
    settings = SETTINGS[service]
    known = {env_name(settings, field) for field in settings.model_fields}
    given = set(deployment(kind, service).environment) | set(dockerfile_environment())

    assert given - known == set()


def needed(settings: type[ServiceSettings]) -> set[str]:
    """The settings a deployment must give: those without a default, those the service
    requires in production (their description says so) and those whose defaults production
    refuses."""
    return (
        {name for name, field in settings.model_fields.items() if field.is_required()}
        | {
            name
            for name, field in settings.model_fields.items()
            if "required in production" in (field.description or "")
        }
        | NEEDED_IN_PRODUCTION
    )


def test_the_needed_settings_are_found_where_they_are_declared() -> None:
    # If a description changed its words, the check below would quietly need less.
    assert needed(ReferralSettings) >= {
        "kafka_bootstrap",
        "database_url",
        "master_key",
        "index_key",
    }
    assert needed(NotifierSettings) >= {"kafka_bootstrap", "database_url", "secret_key"}
    assert needed(AuditSettings) >= {"kafka_bootstrap", "database_url"}


def test_production_refuses_the_defaults_of_the_auth_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given = {env_name(AuditSettings, field): placeholder(field) for field in NEEDED_IN_PRODUCTION}
    isolate(
        monkeypatch,
        given
        | {
            "OVERGANG_KAFKA_BOOTSTRAP": "kafka.example:9092",
            "OVERGANG_DATABASE_URL": placeholder("database_url"),
            "OVERGANG_ENVIRONMENT": "production",
        },
    )
    AuditSettings()
    for name, value in given.items():
        monkeypatch.delenv(name)
        with pytest.raises(ValueError, match="production"):
            AuditSettings()
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_needed_setting_is_given(kind: str, service: str) -> None:
    settings = SETTINGS[service]
    given = set(deployment(kind, service).environment) | set(dockerfile_environment())

    assert {env_name(settings, field) for field in needed(settings)} - given == set()


def secret_fields(settings: type[ServiceSettings]) -> set[str]:
    return {
        name
        for name, field in settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", KINDS)
def test_secrets_are_given_by_reference_never_written_down(kind: str, service: str) -> None:
    settings = SETTINGS[service]
    running = deployment(kind, service)
    secrets = {env_name(settings, field) for field in secret_fields(settings)}
    way = {"compose": "substitution", "k8s": "secretKeyRef"}[kind]

    assert secrets
    for name in secrets & set(running.environment):
        # Given at deploy time; at most an empty default (an optional secret) is written.
        assert not running.environment[name], f"{name} is written in the {kind} file"
        assert running.given_by[name] == way, name
    assert [r["metadata"]["name"] for r in manifests() if r["kind"] == "Secret"] == []


def placeholder(field: str) -> str:
    """A usable value for a setting given at deploy time."""
    if field.endswith("_key"):
        return base64.b64encode(os.urandom(32)).decode()
    if field.endswith("_keys"):  # keys a rotation retired, comma-separated
        return ",".join(base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    if field == "auth_jwks":
        return "https://issuer.example/jwks.json"
    if field == "auth_issuer":
        return "https://issuer.example"
    if field == "database_url":
        return "postgresql://service:password@database.example/service"
    return f"{field}-given-at-deploy-time"


def isolate(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    """Only `environment` is set; no local stack state file is read."""
    for name in list(os.environ):
        if name.startswith("OVERGANG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OVERGANG_STACK_STATE", "/nonexistent/stack.json")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)


def settings_of(
    kind: str, service: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[ServiceSettings, Deployment]:
    """The service's settings as the deployment file would give them: its written values, and
    a usable placeholder for each value given at deploy time."""
    settings = SETTINGS[service]
    running = deployment(kind, service)
    fields = {env_name(settings, field): field for field in settings.model_fields}
    environment = dockerfile_environment() | {
        name: value if value is not None else placeholder(fields[name])
        for name, value in running.environment.items()
    }
    isolate(monkeypatch, environment)
    return settings(), running


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_written_values_are_valid_settings(
    kind: str, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = settings_of(kind, service, monkeypatch)

    assert settings.host == "0.0.0.0"  # noqa: S104 - in a container, every interface
    assert settings.trace_exporter == "otlp"


# --- ports and health -----------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_ports_are_the_ones_the_service_answers_on(
    kind: str, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, running = settings_of(kind, service, monkeypatch)

    assert running.container_ports == [settings.port]
    for what, (_, port) in running.health_checks.items():
        assert port in (settings.port, "http"), what


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_exposes_the_default_port(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(monkeypatch, dockerfile_environment())
    stage = dockerfile_stages()[service]
    port = SETTINGS[service].model_fields["port"].default

    assert re.findall(r"^EXPOSE (\d+)$", stage, flags=re.MULTILINE) == [str(port)]
    assert "OVERGANG_PORT" not in dockerfile_environment()
    assert f'CMD ["python", "-m", "services.{service}"]' in stage


def served_paths(service: str, settings: ServiceSettings) -> set[str]:
    """The paths the service's app answers: building it connects to nothing."""
    app: FastAPI
    if isinstance(settings, ReferralSettings):
        app = create_referral(settings)
    elif isinstance(settings, NotifierSettings):
        app = create_notifier(settings)
    else:
        assert isinstance(settings, AuditSettings), service
        app = create_audit(settings)
    # Its routes as documented, and what is mounted beside them (/metrics).
    mounted = {route.path for route in app.routes if isinstance(route, Mount)}
    return set(app.openapi()["paths"]) | mounted


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_health_checks_use_paths_the_service_serves(
    kind: str, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, running = settings_of(kind, service, monkeypatch)
    served = served_paths(service, settings)
    expected = {"compose": {"healthcheck": READINESS_PATH}}.get(
        kind,
        {
            "readinessProbe": READINESS_PATH,
            "livenessProbe": LIVENESS_PATH,
            "startupProbe": LIVENESS_PATH,
            "prometheus.io/path": "/metrics",
        },
    )

    assert {what: path for what, (path, _) in running.health_checks.items()} == expected
    assert set(expected.values()) <= served


# --- compose --------------------------------------------------------------------------------


def load_yaml(path: Path) -> list[Any]:
    return [document for document in YAML(typ="safe").load_all(path.read_text()) if document]


def compose() -> dict[str, Any]:
    (document,) = load_yaml(COMPOSE)
    assert isinstance(document, dict)
    return document


def substituted(value: object) -> str | None:
    """A compose value after substitution: its default, or None when given at deploy time."""
    text = str(value)
    whole = re.fullmatch(r"\$\{\w+:?-([^}]*)\}", text)
    if whole:
        return whole.group(1)
    return None if "${" in text else text


def compose_deployment(service: str) -> Deployment:
    defined = compose()["services"][service]
    environment = {
        name: substituted(value)
        for name, value in defined["environment"].items()
        if name.startswith("OVERGANG_")
    }
    given_by = {
        name: "substitution"
        for name, value in defined["environment"].items()
        if name.startswith("OVERGANG_") and "${" in str(value)
    }
    ports = [int(str(mapping).rsplit(":", 1)[-1]) for mapping in defined["ports"]]
    command = " ".join(defined["healthcheck"]["test"])
    url = re.search(r"https?://[^'\" ]+", command)
    assert url is not None, command
    parts = urlsplit(url.group(0))
    return Deployment(
        environment,
        given_by,
        ports,
        {"healthcheck": (parts.path, parts.port or 80)},
    )


def test_compose_depends_only_on_services_it_defines() -> None:
    # The compose schema does not check this (../shared/CONFORMANCE.md).
    services = compose()["services"]
    for name, defined in services.items():
        assert set(defined.get("depends_on", {})) <= set(services) - {name}, name


@pytest.mark.parametrize("service", SERVICES)
def test_compose_builds_each_service_from_its_dockerfile_target(service: str) -> None:
    defined = compose()["services"][service]

    assert defined["build"]["target"] == service
    built = COMPOSE.parent / defined["build"]["context"] / defined["build"]["dockerfile"]
    assert built.resolve() == DOCKERFILE.resolve()
    assert service in dockerfile_stages()
    conditions = {name: d["condition"] for name, d in defined["depends_on"].items()}
    assert conditions["postgres"] == conditions["kafka"] == "service_healthy"
    assert conditions["topics"] == "service_completed_successfully"


@pytest.mark.parametrize("service", SERVICES)
def test_compose_gives_each_service_its_own_database(service: str) -> None:
    script = (COMPOSE_DIR / "create-databases.sql").read_text()
    created = set(re.findall(r"^CREATE DATABASE (\w+);$", script, flags=re.MULTILINE))
    # The password is a substitution whose message may hold any character.
    urls = {
        name: re.sub(
            r"\$\{[^}]*\}",
            "password",
            str(compose()["services"][name]["environment"]["OVERGANG_DATABASE_URL"]),
        )
        for name in SERVICES
    }
    database = urlsplit(urls[service]).path.lstrip("/")

    assert database in created
    assert urlsplit(urls[service]).hostname == "postgres"
    assert [urlsplit(url).path for url in urls.values()].count(f"/{database}") == 1


def test_compose_traces_go_to_the_collector_it_runs() -> None:
    (config,) = load_yaml(COMPOSE_DIR / "otel-collector.yaml")
    services = compose()["services"]
    receiving = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    pipeline = config["service"]["pipelines"]["traces"]

    assert (
        "./compose/otel-collector.yaml:/etc/otelcol/config.yaml:ro"
        in (services["otel-collector"]["volumes"])
    )
    assert "otlp" in pipeline["receivers"]
    assert set(pipeline["exporters"]) <= set(config["exporters"])
    for service in SERVICES:
        endpoint = urlsplit(str(services[service]["environment"]["OVERGANG_OTLP_ENDPOINT"]))
        assert endpoint.hostname == "otel-collector"
        assert endpoint.port == int(receiving.rsplit(":", 1)[-1])
        assert endpoint.path == "/v1/traces"  # the OTLP/HTTP exporter does not add it


# --- kubernetes -----------------------------------------------------------------------------


def manifests() -> list[dict[str, Any]]:
    resources = []
    for path in sorted(K8S.glob("*.yaml")):
        resources.extend(load_yaml(path))
    assert resources
    return resources


def kafka_topics() -> Iterator[dict[str, Any]]:
    return (r for r in manifests() if r["kind"] == "KafkaTopic")


def k8s_deployment(service: str) -> Deployment:
    resources = manifests()
    (found,) = [
        r for r in resources if r["kind"] == "Deployment" and r["metadata"]["name"] == service
    ]
    pod = found["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    config_maps = {r["metadata"]["name"]: r for r in resources if r["kind"] == "ConfigMap"}
    environment: dict[str, str | None] = {}
    given_by: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        assert name in config_maps, f"envFrom a ConfigMap that is not here: {name}"
        environment |= config_maps[name]["data"]
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        else:
            environment[variable["name"]] = None
            (given_by[variable["name"]],) = variable["valueFrom"]
    environment = {name: v for name, v in environment.items() if name.startswith("OVERGANG_")}
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    checks: dict[str, tuple[str, int | str]] = {
        probe: (container[probe]["httpGet"]["path"], container[probe]["httpGet"]["port"])
        for probe in ("readinessProbe", "livenessProbe", "startupProbe")
    }
    annotations = pod["metadata"].get("annotations", {})
    checks["prometheus.io/path"] = (
        annotations["prometheus.io/path"],
        int(annotations["prometheus.io/port"]),
    )
    (exposed,) = [
        r for r in resources if r["kind"] == "Service" and r["metadata"]["name"] == service
    ]
    for port in exposed["spec"]["ports"]:
        target = port["targetPort"]
        assert ports.get(target, target) in ports.values(), f"Service port {target}"
    assert exposed["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    return Deployment(environment, given_by, list(ports.values()), checks)


@pytest.mark.parametrize("service", SERVICES)
def test_k8s_runs_each_service_without_privileges(service: str) -> None:
    (found,) = [
        r for r in manifests() if r["kind"] == "Deployment" and r["metadata"]["name"] == service
    ]
    pod = found["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    user = re.search(r"^USER (\d+)", DOCKERFILE.read_text(), flags=re.MULTILINE)

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert user is not None
    assert pod["securityContext"]["runAsUser"] == int(user.group(1))
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["limits"]["memory"]
    assert container["resources"]["requests"]["memory"]


# --- the Dockerfile -------------------------------------------------------------------------


def dockerfile_stages() -> dict[str, str]:
    """Each named stage's text."""
    stages = re.split(r"^(?=FROM )", DOCKERFILE.read_text(), flags=re.MULTILINE)
    named = {}
    for stage in stages:
        header = re.match(r"FROM \S+ AS (\S+)", stage)
        if header:
            named[header.group(1)] = stage
    return named


def test_the_image_installs_the_locked_dependencies_only() -> None:
    text = DOCKERFILE.read_text()

    assert "uv sync --frozen --no-dev" in text
    assert set(SERVICES) <= set(dockerfile_stages())
