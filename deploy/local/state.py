"""The stack's state file: what runs, where, and under which pid. `up` writes it; `down`,
`status`, the services and the test harness read it."""

import os
from pathlib import Path

from pydantic import BaseModel, Field

from deploy.local.processes import ProcessRecord


class KafkaState(BaseModel):
    bootstrap: str
    process: ProcessRecord | None = Field(None, description="None when the broker is not ours")


class PostgresState(BaseModel):
    url: str = Field(description="the maintenance database, with credentials")
    databases: dict[str, str] = Field(description="database name -> URL")
    process: ProcessRecord | None = Field(None, description="None when the server is not ours")


class ServiceState(BaseModel):
    url: str
    process: ProcessRecord


class StackState(BaseModel):
    kafka: KafkaState | None = None
    postgres: PostgresState | None = None
    services: dict[str, ServiceState] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> "StackState":
        if not path.exists():
            return cls()
        return cls.model_validate_json(path.read_text())

    def save(self, path: Path) -> None:
        """Write atomically and readable only by us: the file holds the database password."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(self.model_dump_json(indent=2))
        temporary.chmod(0o600)
        os.replace(temporary, path)
