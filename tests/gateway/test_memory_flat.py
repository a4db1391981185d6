"""Memory stays flat over thousands of requests of each shape: the real app in this process
(``create_app`` through ``httpx.ASGITransport`` and an in-process WebSocket), real PostgreSQL.

After a warm-up (caches filled, pool connections open, statements prepared) and a full
collection, a shape runs ``REQUESTS`` times; what it left behind is counted as the objects the
collector tracks and the interpreter's allocated memory blocks (both exact counters, free to
read), and, over the last ``TRACED`` requests, as the bytes ``tracemalloc`` still sees
allocated (tracing slows every allocation, so it covers a window). A request that keeps
anything (the shared ``_GiveUp`` kept every give-up's frames: about 150 objects a mutation,
1,900 a catalog page) fails by orders of magnitude; nothing here is timed.
``bench/memory.py`` measures the same shapes over a real ``revenge serve``.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from gateway.app import create_app
from infra.database import Database
from infra.settings import load_settings
from tests.support.request_shapes import (
    SHAPES,
    AsgiWebSocket,
    ShapeRows,
    insert_shape_rows,
    run_shape,
)

WARMUP = 100
REQUESTS = 1000
TRACED = 200  # the last requests, under tracemalloc
# A flat run leaves < 1 object, < 4 blocks, < 800 B a request; the bounds leave room for a pool
# connection or a background task's allocations landing in the window, and stay far below the
# leak's smallest figures (with the shared _GiveUp instance).
MAX_OBJECTS_PER_REQUEST = 10.0  # the leak: 155 (mutation) to 1,900 (list)
MAX_BLOCKS_PER_REQUEST = 40.0  # the leak: 220 to 3,950
MAX_BYTES_PER_REQUEST = 6144  # the leak: 19 KB to 303 KB


@pytest.fixture
async def started(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Starlette, ShapeRows]]:
    settings = load_settings(
        {
            "REVENGE_DATA_DIR": str(tmp_path / "data"),
            "REVENGE_LOG_LEVEL": "warning",
            "REVENGE_WORKER_IN_PROCESS": "false",
        }
    )
    app = create_app(settings, database=Database(pool=pool, url=database_url))
    rows = await insert_shape_rows(pool)
    async with app.router.lifespan_context(app):
        yield app, rows


async def _measure(app: Starlette, rows: ShapeRows, shape: str) -> dict[str, float]:
    """Objects, memory blocks and traced bytes left behind per request of ``shape``."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def connect() -> AsgiWebSocket:
            return await AsgiWebSocket.connect(app)

        for number in range(WARMUP):
            await run_shape(shape, number, rows, client, connect)
        gc.collect()
        objects, blocks = len(gc.get_objects()), sys.getallocatedblocks()
        for number in range(REQUESTS - TRACED):
            await run_shape(shape, number, rows, client, connect)
        tracemalloc.start()
        try:
            traced = tracemalloc.get_traced_memory()[0]
            for number in range(TRACED):
                await run_shape(shape, number, rows, client, connect)
            gc.collect()
            traced = tracemalloc.get_traced_memory()[0] - traced
        finally:
            tracemalloc.stop()
        gc.collect()
        objects, blocks = len(gc.get_objects()) - objects, sys.getallocatedblocks() - blocks
    return {
        "objects": objects / REQUESTS,
        "blocks": blocks / REQUESTS,
        "bytes": traced / TRACED,
    }


@pytest.mark.parametrize("shape", SHAPES)
async def test_memory_stays_flat_over_requests(
    started: tuple[Starlette, ShapeRows], shape: str
) -> None:
    app, rows = started

    per_request = await _measure(app, rows, shape)

    print(f"{shape} per request: {per_request}")
    assert per_request["objects"] < MAX_OBJECTS_PER_REQUEST, per_request
    assert per_request["blocks"] < MAX_BLOCKS_PER_REQUEST, per_request
    assert per_request["bytes"] < MAX_BYTES_PER_REQUEST, per_request
