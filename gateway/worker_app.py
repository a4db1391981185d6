"""The HTTP side of a ``revenge worker``: the segments its encoders make, for gateway replicas.

A gateway that finds a variant's encoder run on another process proxies the segment request to
that worker's ``/internal/hls/…`` (its address is in the run's row). The request carries the
player's own HLS signature, or, for a player that authenticated by header, a short-lived one the
gateway signs after checking those credentials (which never leave the gateway). The worker checks
it with the same signing key, so the route needs no other trust between processes. Nothing else
is served here.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette

from gateway.hls_routes import internal_hls_routes
from infra.database import Database

__all__ = ["WorkerHttp", "serve_worker_http", "worker_http_app"]


def worker_http_app(database: Database, services: dict[str, Any]) -> Starlette:
    """An app over resources the worker already opened (no lifespan of its own)."""
    app = Starlette(routes=internal_hls_routes())
    app.state.database = database
    app.state.services = services
    return app


class _Server(uvicorn.Server):
    """uvicorn inside the worker's loop: the worker handles SIGINT/SIGTERM itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WorkerHttp:
    def __init__(self, server: _Server, task: asyncio.Task[None]) -> None:
        self.server = server
        self.task = task

    async def close(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(Exception, SystemExit):
            await asyncio.wait_for(self.task, 10)


async def serve_worker_http(
    app: Starlette, host: str, port: int, *, sock: socket.socket | None = None
) -> WorkerHttp:
    """Serve ``app`` on ``host:port`` (or on ``sock``, bound already); returns once it listens
    (raises when it cannot)."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    server = _Server(config)
    sockets = [sock] if sock is not None else None
    task = asyncio.create_task(server.serve(sockets=sockets), name="worker http")
    while not server.started:
        if task.done():
            with contextlib.suppress(SystemExit):
                task.result()  # uvicorn exits when it cannot bind
            raise OSError(f"the worker cannot listen on {host}:{port}")
        await asyncio.sleep(0.02)
    return WorkerHttp(server, task)
