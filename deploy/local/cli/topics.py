"""`overgang topics create|describe`: the topics declared in `schemas/topics.py` (with their
dead-letter topics and the relays' progress topic), on any Kafka, through its admin API."""

import asyncio
from typing import Annotated, Any

import typer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from rich.table import Table

from deploy.local.cli.common import (
    BootstrapOption,
    Failed,
    JsonOption,
    bootstrap,
    config,
    out,
    print_json,
)
from deploy.local.kafka import create_topics, declared_topics

topics_app = typer.Typer(
    help="The Kafka topics Overgang declares (schemas/topics.py).", no_args_is_help=True
)

# Kafka's config_source 1: set on the topic itself; the rest are the broker's defaults.
_SET_ON_TOPIC = 1
# Worth seeing even when they are the broker's defaults.
_ALWAYS_SHOWN = ("cleanup.policy", "retention.ms", "min.insync.replicas", "max.message.bytes")


@topics_app.command()
def create(
    replication_factor: Annotated[
        int,
        typer.Option(
            "--replication-factor", min=1, help="copies of each partition (1 for a local broker)"
        ),
    ] = 1,
    bootstrap_: BootstrapOption = None,
    json_: JsonOption = False,
) -> None:
    """Create every declared topic that does not exist yet (what exists is left alone)."""
    found = bootstrap(bootstrap_, config())
    try:
        created = create_topics(found, replication_factor=replication_factor)
    except KafkaError as error:
        raise Failed(f"Kafka at {found} refused to create the topics: {error}") from None
    if json_:
        print_json({"created": created})
    elif created:
        print("created: " + ", ".join(created))
    else:
        print("every declared topic exists already")


async def _describe(bootstrap_: str, names: list[str]) -> list[dict[str, Any]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
        existing = [d["topic"] for d in described if d["error_code"] == 0]
        configs: dict[str, dict[str, str]] = {}
        if existing:
            answers = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name) for name in existing]
            )
            for answer in answers:
                for resource in answer.to_object()["resources"]:
                    configs[resource["resource_name"]] = {
                        entry["config_names"]: entry["config_value"]
                        for entry in resource["config_entries"]
                        if entry["config_source"] == _SET_ON_TOPIC
                        or entry["config_names"] in _ALWAYS_SHOWN
                    }
    finally:
        await admin.close()
    declared = declared_topics()
    found = []
    for d in sorted(described, key=lambda d: names.index(d["topic"])):
        partitions = sorted(d["partitions"], key=lambda p: p["partition"])
        exists = d["error_code"] == 0
        found.append(
            {
                "topic": d["topic"],
                "declared_partitions": declared.get(d["topic"]),
                "exists": exists,
                "partitions": len(partitions) if exists else None,
                "replication_factor": len(partitions[0]["replicas"]) if partitions else None,
                "under_replicated": sum(len(p["isr"]) < len(p["replicas"]) for p in partitions),
                "config": configs.get(d["topic"], {}),
            }
        )
    return found


@topics_app.command()
def describe(
    topic: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[TOPIC]...", help="these topics only (default: every declared one)"
        ),
    ] = None,
    bootstrap_: BootstrapOption = None,
    json_: JsonOption = False,
) -> None:
    """Each topic's partitions, replication and configuration, against what is declared."""
    found = bootstrap(bootstrap_, config())
    try:
        described = asyncio.run(_describe(found, list(topic or declared_topics())))
    except KafkaError as error:
        raise Failed(f"Kafka at {found} did not describe the topics: {error}") from None
    if json_:
        print_json(described)
        return
    table = Table("topic", "partitions", "declared", "replicas", "config")
    table.columns[0].no_wrap = True
    for d in described:
        table.add_row(
            d["topic"],
            "missing" if not d["exists"] else str(d["partitions"]),
            "-" if d["declared_partitions"] is None else str(d["declared_partitions"]),
            "-" if d["replication_factor"] is None else str(d["replication_factor"]),
            " ".join(f"{k}={v}" for k, v in sorted(d["config"].items())),
        )
    out.print(table)
