"""Creates the plumbing's own tables (outbox, inbox) in a service's database."""

from importlib.resources import files

from services.plumbing.database import Connection

# Several processes may start at once; creating the same objects concurrently can collide.
_DDL_LOCK = 0x6F76_6572_6761_6E67  # "overgang"


async def create_plumbing_tables(connection: Connection) -> None:
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _DDL_LOCK)
        await connection.execute(
            files("services.plumbing").joinpath("sql/plumbing.sql").read_text()
        )
