"""Where the local stack lives and which ports it binds, from OVERGANG_STACK_* variables."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPOSITORY = Path(__file__).resolve().parents[2]

# One database per service: services never read each other's tables.
SERVICE_DATABASES = ("referral", "notifier", "audit")
# The services, in the order they start.
SERVICES = ("referral", "notifier", "audit")
# The test harness makes a fresh schema per test in this one.
TEST_DATABASE = "overgang_test"


class StackConfig(BaseSettings):
    """Settings of the local stack; every field can be set as OVERGANG_STACK_<FIELD>."""

    model_config = SettingsConfigDict(env_prefix="OVERGANG_STACK_", extra="forbid")

    dir: Path = Field(REPOSITORY / "var", description="state, data, logs and the jar cache")
    host: str = Field("127.0.0.1", description="the only address the servers listen on")
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_jars: Path = Field(
        REPOSITORY / "var" / "cache" / "kafka-jars",
        description="jars fetched by deploy/kafka/pom.xml, shared by every stack directory",
    )
    kafka_heap: str = Field("512m", description="JVM -Xmx for the broker")
    postgres_port: int = 55432
    postgres_url: str | None = Field(
        None, description="use this running server instead of starting the embedded one"
    )
    referral_port: int = 8000
    notifier_port: int = 8001
    audit_port: int = 8002
    webhook_receiver_port: int = Field(8010, description="the demo webhook receiver's port")
    web_port: int = Field(8020, description="the web front's port")
    dev_oidc_port: int = Field(
        8030, description="the development OpenID Connect provider's port (web front sign-in)"
    )
    otlp_endpoint: str | None = Field(
        None,
        description="an OpenTelemetry collector's OTLP/HTTP traces endpoint "
        "(e.g. http://127.0.0.1:4318/v1/traces): when set, the services export their traces "
        "there; unset, they record none",
    )
    ready_timeout_s: float = 60.0

    def service_port(self, name: str) -> int:
        """The port the service `name` answers on."""
        ports = {
            "referral": self.referral_port,
            "notifier": self.notifier_port,
            "audit": self.audit_port,
        }
        return ports[name]

    @property
    def state_file(self) -> Path:
        return self.dir / "stack.json"

    @property
    def dev_issuer_dir(self) -> Path:
        return self.dir / "dev-issuer"

    @property
    def log_dir(self) -> Path:
        return self.dir / "logs"
