"""Apache Kafka 4 in KRaft mode (one combined broker and controller), run from the jars that
deploy/kafka/pom.xml fetches from Maven Central."""

import asyncio
import base64
import hashlib
import logging
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.local.config import REPOSITORY, StackConfig
from deploy.local.errors import StackError
from deploy.local.processes import ProcessRecord, require_free_port, spawn, wait_until
from services.plumbing.kafka import metadata_answers
from services.plumbing.outbox import RelaySettings

POM = REPOSITORY / "deploy" / "kafka" / "pom.xml"
MINIMUM_JAVA = 17


def home(config: StackConfig) -> Path:
    return config.dir / "kafka"


def bootstrap_servers(config: StackConfig) -> str:
    return f"{config.host}:{config.kafka_port}"


def require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise StackError(
            f"Java {MINIMUM_JAVA} or newer is needed to run Kafka and was not found on PATH: "
            "install a JDK (e.g. apt-get install openjdk-17-jre-headless)"
        )
    version = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    found = re.search(r'version "(\d+)', version)
    if found is None or int(found.group(1)) < MINIMUM_JAVA:
        raise StackError(f"Kafka 4 needs Java {MINIMUM_JAVA} or newer; {java} says: {version[:80]}")
    return java


def fetch_jars(config: StackConfig) -> bool:
    """Copy the broker's jars from Maven Central into the cache once per version of the pom;
    True when it had to."""
    libs = config.kafka_jars
    pom_hash = hashlib.sha256(POM.read_bytes()).hexdigest()
    marker = libs / ".pom-sha256"
    if marker.exists() and marker.read_text() == pom_hash:
        return False
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("Maven (mvn) is needed once to fetch the Kafka jars and was not found")
    if libs.exists():
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        last = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        raise StackError(f"fetching the Kafka jars with Maven failed: {last[0]}")
    marker.write_text(pom_hash)
    return True


def write_config(config: StackConfig) -> tuple[Path, Path]:
    """The broker's server.properties and its log4j2 configuration (logs to a file)."""
    kafka_home = home(config)
    kafka_home.mkdir(parents=True, exist_ok=True)
    host, port, controller = config.host, config.kafka_port, config.kafka_controller_port
    server = kafka_home / "server.properties"
    server.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{host}:{controller}",
                f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
                f"advertised.listeners=PLAINTEXT://{host}:{port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={kafka_home / 'data'}",
                "num.partitions=3",
                # One node: internal topics cannot have more than one replica.
                "offsets.topic.replication.factor=1",
                "share.coordinator.state.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                # Consumers in tests and on a laptop should not wait 3 s to join a group.
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "",
            ]
        )
    )
    log4j = kafka_home / "log4j2.properties"
    log4j.write_text(
        "\n".join(
            [
                "status = warn",
                "appender.file.type = File",
                "appender.file.name = file",
                f"appender.file.fileName = {config.log_dir / 'kafka.log'}",
                "appender.file.layout.type = PatternLayout",
                "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                "rootLogger.level = INFO",
                "rootLogger.appenderRef.file.ref = file",
                "",
            ]
        )
    )
    return server, log4j


def ensure_formatted(config: StackConfig, java: str, libs: Path, server: Path, log4j: Path) -> None:
    """Format the KRaft storage once; a formatted directory is kept across restarts."""
    if (home(config) / "data" / "meta.properties").exists():
        return
    # Kafka writes cluster ids as URL-safe base64 of 16 random bytes, unpadded.
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    result = subprocess.run(
        [
            java,
            "-cp",
            f"{libs}/*",
            f"-Dlog4j2.configurationFile={log4j}",
            "kafka.tools.StorageTool",
            "format",
            # One argument with "=": an id may begin with "-" (1 in 64), which the tool's
            # argument parser would take for an option.
            f"--cluster-id={cluster_id}",
            "-c",
            str(server),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"formatting the Kafka storage failed: {result.stdout}{result.stderr}")


def answers(bootstrap: str) -> bool:
    """True when the broker answers a metadata request."""
    # A refused connection is the expected answer while the broker starts: don't log it.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return asyncio.run(metadata_answers(bootstrap))


def declared_topics() -> dict[str, int]:
    """Every topic Overgang needs, with its partitions: those of `schemas.topics`, their
    dead-letter topics, and the relays' progress topic."""
    from schemas.topics import TOPICS

    wanted = {t.name: t.partitions for t in TOPICS} | {t.dead_letters: 1 for t in TOPICS}
    wanted[RelaySettings.progress_topic] = 1
    return wanted


def create_topics(bootstrap: str, *, replication_factor: int = 1) -> list[str]:
    """Create every declared topic (`declared_topics`); what exists is left alone. Returns
    the names created."""
    wanted = declared_topics()

    async def create() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            missing = sorted(set(wanted) - set(await admin.list_topics()))
            if missing:
                await admin.create_topics(
                    [
                        NewTopic(
                            name,
                            num_partitions=wanted[name],
                            replication_factor=replication_factor,
                        )
                        for name in missing
                    ]
                )
            return missing
        finally:
            await admin.close()

    return asyncio.run(create())


def start(config: StackConfig) -> ProcessRecord:
    """Fetch, configure, format and start the broker, and wait until it answers."""
    java = require_java()
    require_free_port(config.host, config.kafka_port, "Kafka")
    require_free_port(config.host, config.kafka_controller_port, "the Kafka controller")
    fetch_jars(config)
    libs = config.kafka_jars
    server, log4j = write_config(config)
    ensure_formatted(config, java, libs, server, log4j)
    log_file = config.log_dir / "kafka.out"
    process = spawn(
        [
            java,
            f"-Xmx{config.kafka_heap}",
            f"-Xms{config.kafka_heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(server),
        ],
        log_file=log_file,
    )
    bootstrap = bootstrap_servers(config)
    wait_until(
        lambda: answers(bootstrap),
        process=process,
        timeout_s=config.ready_timeout_s,
        what=f"Kafka on {bootstrap}",
        log_file=config.log_dir / "kafka.log",
    )
    return process
