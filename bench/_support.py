"""Shared pieces of the benchmarks: a throwaway embedded database and figure printing."""

from __future__ import annotations

import asyncio
import socket
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from uvicorn.loops.auto import auto_loop_factory  # noqa: E402

from gateway.app import create_app  # noqa: E402
from gateway.serve import tune_garbage_collector  # noqa: E402
from infra.database import Database, _start_embedded, create_pool  # noqa: E402
from infra.logging import configure_logging  # noqa: E402
from infra.migrations import migrate_up  # noqa: E402


@asynccontextmanager
async def bench_database_and_url() -> AsyncIterator[tuple[asyncpg.Pool, str]]:
    """A migrated pool on a fresh embedded PostgreSQL (the default deployment), and its URL."""
    with tempfile.TemporaryDirectory(prefix="revenge-bench-") as folder:
        embedded = await asyncio.to_thread(_start_embedded, Path(folder) / "postgres")
        pool = await create_pool(embedded.url, 2, 10)
        try:
            async with pool.acquire() as conn:
                await migrate_up(conn)
            yield pool, embedded.url
        finally:
            await pool.close()
            embedded.stop()


@asynccontextmanager
async def bench_database() -> AsyncIterator[asyncpg.Pool]:
    async with bench_database_and_url() as (pool, _):
        yield pool


def figure(name: str, value: float, unit: str) -> None:
    print(f"{name} {value:.3f} {unit}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


async def serve(
    settings: Any, database: Database, listening: socket.socket
) -> tuple[uvicorn.Server, asyncio.Task]:
    """The real app under uvicorn, in this process, on a listening socket; returns once the
    lifespan has started (connections wait in the socket's backlog). ``revenge serve`` runs
    granian now (``gateway.http_server.serve_app``); uvicorn is its fallback. These benchmarks time
    GraphQL work in Python, where the server matters less than for files (``bench/stream.py``
    runs the deployed server itself)."""
    started = asyncio.Event()

    async def on_started(app: Starlette) -> None:
        tune_garbage_collector()  # as `revenge serve` does once it is up
        started.set()

    app = create_app(settings, database=database, on_started=on_started)
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        waiting.cancel()
        serving.result()
        raise SystemExit("uvicorn stopped before serving")
    return server, serving


@asynccontextmanager
async def served(settings: Any, database: Database, backlog: int = 128) -> AsyncIterator[str]:
    """The real app (``serve``) on a free loopback port for the body of the block; yields its
    base URL (``http://127.0.0.1:<port>``) and stops the server after."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    listening.listen(backlog)
    base = f"http://127.0.0.1:{listening.getsockname()[1]}"
    server, serving = await serve(settings, database, listening)
    try:
        yield base
    finally:
        server.should_exit = True
        await serving


def run_like_serve(main: Coroutine[Any, Any, None]) -> None:
    """Run a benchmark on the event loop `revenge serve` runs on (uvloop when installed), with
    the server's logging quiet."""
    configure_logging("warning")
    with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
        runner.run(main)
