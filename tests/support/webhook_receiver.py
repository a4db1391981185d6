"""A real HTTP receiver for webhook tests and benchmarks: uvicorn on a free port, in the test's
own event loop, recording every POST; each path answers as the test tells it to."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["Received", "Receiver", "receiver"]

Behaviour = Callable[[Request, int], Awaitable[Response]]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 0


async def _ok(request: Request, count: int) -> Response:
    return Response("thanks", status_code=200)


@dataclass
class Receiver:
    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def url(self, path: str) -> str:
        return self.base_url + path

    def on(self, path: str, behaviour: Behaviour) -> None:
        self.behaviours[path] = behaviour

    def at(self, path: str) -> list[Received]:
        return [request for request in self.requests if request.path == path]

    async def wait_for(self, path: str, count: int, seconds: float = 15.0) -> list[Received]:
        """The first ``count`` requests to ``path`` once they arrived."""

        def arrived() -> bool:
            return len(self.at(path)) >= count

        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(arrived), seconds)
        return self.at(path)[:count]

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        received = Received(request.url.path, dict(request.headers), body, time.perf_counter())
        count = len(self.at(received.path))
        behaviour = self.behaviours.get(received.path, _ok)
        response = await behaviour(request, count)
        received.status = response.status_code
        async with self.changed:
            self.requests.append(received)
            self.changed.notify_all()
        return response


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def receiver(**config: Any) -> AsyncIterator[Receiver]:
    """A receiver serving ``POST /{anything}`` until the block ends."""
    state = Receiver()
    app = Starlette(routes=[Route("/{path:path}", state.handle, methods=["POST"])])
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="error", lifespan="off", **config
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    state.base_url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        server.should_exit = True
        await task
