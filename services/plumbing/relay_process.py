"""Runs one outbox relay as a process of its own, until SIGTERM or SIGINT:

    python -m services.plumbing.relay_process --database-url URL --bootstrap HOST:PORT \\
        --transactional-id ID [--batch-size N]

Services run their relay inside their own process; this is for operations and for the tests
that kill a relay mid-batch."""

import argparse
import asyncio
import logging
import signal

from services.plumbing.outbox import OutboxRelay, RelaySettings


async def _run(arguments: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    settings = RelaySettings(
        bootstrap=arguments.bootstrap,
        transactional_id=arguments.transactional_id,
        batch_size=arguments.batch_size,
        name=arguments.name,
    )
    await OutboxRelay(arguments.database_url, settings).run(stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--transactional-id", required=True)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--name", default="outbox-relay", help="application_name in PostgreSQL")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
