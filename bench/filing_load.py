"""The filing benchmark's load (`python -m bench.filing_load PLAN RESULT`), in a process of its
own: an open-loop schedule, so a slow response never lowers the offered load.

Request i is due at start + i / rate and is sent then, whatever the earlier ones are doing (no
cap on requests in flight). Its latency is counted from when it was due, not from when it
left, so a late send (a busy client) counts against the figures rather than hiding
(coordinated omission avoided). Requests due in the warm-up are sent but not counted.

PLAN is JSON: {"url", "path", "rate", "duration_s", "warmup_s", "requests": [{"headers",
"json"}]} (cycled through); RESULT gets the latencies and the answers."""

import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class _Connections:
    """A lean HTTP/1.1 client on asyncio streams (keep-alive, a connection per request in
    flight): httpx costs a third of a core at 200/s, taken from the server on a small machine."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        if self.idle:
            reader, writer = self.idle.pop()
            try:
                return await self._exchange(reader, writer, method, path, headers, body)
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as error:
                if isinstance(error, asyncio.IncompleteReadError) and error.partial:
                    raise
                # Nothing came back on a connection that sat idle: the server closed it (its
                # keep-alive timeout) before reading the request. As any client does, send it
                # again on a new connection.
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.opened += 1
        return await self._exchange(reader, writer, method, path, headers, body)

    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
    ) -> int:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        try:
            response_head = await reader.readuntil(b"\r\n\r\n")
            lines = response_head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        self.idle.append((reader, writer))
        return status

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def _run(plan: dict[str, Any]) -> dict[str, Any]:
    rate = float(plan["rate"])
    warmup = round(float(plan["warmup_s"]) * rate)
    total = warmup + round(float(plan["duration_s"]) * rate)
    requests = [
        (
            {**request["headers"], "Content-Type": "application/json"},
            json.dumps(request["json"]).encode(),
        )
        for request in plan["requests"]
    ]
    latencies: list[float | None] = [None] * total
    send_lags: list[float] = [0.0] * total
    answers: Counter[str] = Counter()
    finished: list[float] = [0.0] * total
    connections = _Connections(plan["url"])

    async def one(i: int, due: float) -> None:
        headers, body = requests[i % len(requests)]
        if plan.get("idempotency_keys"):
            headers = {**headers, "Idempotency-Key": str(uuid.uuid4())}
        send_lags[i] = time.perf_counter() - due
        try:
            answer = str(await connections.request("POST", plan["path"], headers, body))
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            answer = type(error).__name__
        finished[i] = time.perf_counter()
        latencies[i] = finished[i] - due
        if i >= warmup:
            answers[answer] += 1

    async def reset() -> None:
        await connections.request("GET", plan["reset_path"], {}, b"")

    start = time.perf_counter() + 0.2
    in_flight: set[asyncio.Task[Any]] = set()
    for i in range(total):
        due = start + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        if i == warmup and plan.get("reset_path"):
            # The server's own timings start with the counted requests too.
            task = asyncio.create_task(reset())
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        task = asyncio.create_task(one(i, due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    connections.close()

    counted = [latency for latency in latencies[warmup:] if latency is not None]
    window_start = start + warmup / rate
    return {
        "requests": total - warmup,
        "warmup_requests": warmup,
        "latencies_s": counted,
        "answers": dict(answers),
        "sent_over_s": (total - warmup) / rate,
        "completed_over_s": max(finished[warmup:]) - window_start,
        "max_send_lag_s": max(send_lags[warmup:]),
        "connections_opened": connections.opened,
    }


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text())
    result = asyncio.run(_run(plan))
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
