"""Several processes on one database: scans are queued once, run once, and taken over."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg

from infra.bus import InProcessBus
from resolvers.catalog.scan_queue import claim_scan, claimable_scans, enqueue_scan
from resolvers.catalog.scan_service import ScanService
from tests.resolvers.catalog.test_scanning import make_library
from tests.support.media_files import make_video


async def finished(pool: asyncpg.Pool, scan_id: uuid.UUID) -> asyncpg.Record:
    async with asyncio.timeout(30):
        while True:
            row = await pool.fetchrow("SELECT * FROM library_scans WHERE id = $1", scan_id)
            if row["status"] in ("completed", "failed", "interrupted"):
                return row
            await asyncio.sleep(0.05)


async def test_a_gateway_without_a_worker_queues_and_a_worker_process_runs(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    make_video(tmp_path / "Solaris (1972).mkv", seconds=0.3)
    library_id = await make_library(pool, "movies", tmp_path)
    gateway = ScanService(pool, InProcessBus(), probe_workers=1, probe_timeout_s=20)
    worker = ScanService(pool, InProcessBus(), probe_workers=1, probe_timeout_s=20)
    await worker.start_worker()
    try:
        scan_id = await gateway.start(library_id)
        row = await finished(pool, scan_id)
    finally:
        await worker.close()
        await gateway.close()
    assert row["status"] == "completed"
    assert row["files_new"] == 1
    assert row["worker_id"] is None  # released when it finished


async def test_starting_twice_gives_the_same_scan(pool: asyncpg.Pool, tmp_path: Path) -> None:
    library_id = await make_library(pool, "movies", tmp_path)
    async with pool.acquire() as conn:
        first = await enqueue_scan(conn, library_id, full=False)
        second = await enqueue_scan(conn, library_id, full=True)
        missing = await enqueue_scan(conn, uuid.uuid4(), full=False)
    assert first is not None and second is not None
    assert (second[0], first[1], second[1]) == (first[0], True, False)
    assert missing is None


async def test_a_claimed_scan_cannot_be_claimed_by_another_worker(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    library_id = await make_library(pool, "movies", tmp_path)
    async with pool.acquire() as conn:
        queued = await enqueue_scan(conn, library_id, full=False)
        assert queued is not None
        claim = await claim_scan(conn, queued[0], "elsewhere:1:a")
        again = await claim_scan(conn, queued[0], "elsewhere:2:b")
    assert claim is not None and claim.library_id == library_id
    assert again is None


async def test_a_scan_whose_worker_died_is_taken_over(pool: asyncpg.Pool, tmp_path: Path) -> None:
    make_video(tmp_path / "Stalker (1979).mkv", seconds=0.3)
    library_id = await make_library(pool, "movies", tmp_path)
    async with pool.acquire() as conn:
        queued = await enqueue_scan(conn, library_id, full=False)
        assert queued is not None
        # A worker on another host claimed it and then went silent a minute ago.
        assert await claim_scan(conn, queued[0], "far-away:42:dead") is not None
        await conn.execute(
            "UPDATE library_scans SET heartbeat_at = now() - interval '1 minute' WHERE id = $1",
            queued[0],
        )
        assert await claimable_scans(conn) == [queued[0]]
    worker = ScanService(pool, InProcessBus(), probe_workers=1, probe_timeout_s=20)
    await worker.start_worker()
    try:
        row = await finished(pool, queued[0])
    finally:
        await worker.close()
    assert (row["status"], row["files_new"]) == ("completed", 1)


async def test_a_live_worker_keeps_its_scan(pool: asyncpg.Pool, tmp_path: Path) -> None:
    library_id = await make_library(pool, "movies", tmp_path)
    async with pool.acquire() as conn:
        queued = await enqueue_scan(conn, library_id, full=False)
        assert queued is not None
        assert await claim_scan(conn, queued[0], "far-away:42:alive") is not None
        assert await claimable_scans(conn) == []
        assert await claim_scan(conn, queued[0], "here:1:x") is None
