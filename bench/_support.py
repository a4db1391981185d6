"""Shared pieces of the benchmarks: a throwaway embedded database and figure printing."""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.database import _start_embedded, create_pool  # noqa: E402
from infra.migrations import migrate_up  # noqa: E402


@asynccontextmanager
async def bench_database() -> AsyncIterator[asyncpg.Pool]:
    """A migrated pool on a fresh embedded PostgreSQL (the default deployment)."""
    with tempfile.TemporaryDirectory(prefix="revenge-bench-") as folder:
        import asyncio

        embedded = await asyncio.to_thread(_start_embedded, Path(folder) / "postgres")
        pool = await create_pool(embedded.url, 2, 10)
        try:
            async with pool.acquire() as conn:
                await migrate_up(conn)
            yield pool
        finally:
            await pool.close()
            embedded.stop()


def figure(name: str, value: float, unit: str) -> None:
    print(f"{name} {value:.3f} {unit}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)
