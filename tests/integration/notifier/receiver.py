"""A real webhook receiver on loopback: a Starlette app under uvicorn in a thread of its own,
answering each path as scripted (status codes in turn, an optional delay) and recording every
request it gets."""

import asyncio
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()


@dataclass
class Receiver:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    _scripts: dict[str, deque[int]] = field(default_factory=lambda: defaultdict(deque))
    _always: dict[str, int] = field(default_factory=dict)
    _delays: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def answer(self, path: str, *statuses: int, then: int = 204) -> None:
        """Answer `path` with these statuses in turn, then always `then`."""
        with self._lock:
            self._scripts[path] = deque(statuses)
            self._always[path] = then

    def delay(self, path: str, seconds: float) -> None:
        with self._lock:
            self._delays[path] = seconds

    def requests(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    async def handle(self, request: Request) -> Response:
        path = request.path_params["path"]
        body = await request.body()
        with self._lock:
            self.received.append(Received(path, dict(request.headers), body, time.monotonic()))
            script = self._scripts[path]
            status = script.popleft() if script else self._always.get(path, 204)
            delay = self._delays.get(path, 0.0)
        if delay:
            await asyncio.sleep(delay)
        return Response(status_code=status)


class RunningReceiver:
    def __init__(self) -> None:
        self.receiver = Receiver()
        app = Starlette(routes=[Route("/{path}", self.receiver.handle, methods=["POST"])])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.receiver.port = probe.getsockname()[1]
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.receiver.port, log_config=None, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="webhook-receiver")

    def __enter__(self) -> Receiver:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.02)
        return self.receiver

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
