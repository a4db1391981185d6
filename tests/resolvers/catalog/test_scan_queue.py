"""Several workers on one database: scans are queued once, run once, handed back, taken over."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
from procrastinate.manager import JobManager

from infra.bus import InProcessBus
from infra.jobs import JobQueue
from resolvers.catalog.scan_queue import claim_scan, enqueue_scan
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
    pool: asyncpg.Pool, jobs: JobQueue, tmp_path: Path
) -> None:
    make_video(tmp_path / "Solaris (1972).mkv", seconds=0.3)
    library_id = await make_library(pool, "movies", tmp_path)
    gateway = ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)
    worker = ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)
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


async def test_starting_a_scan_twice_queues_one_job(
    pool: asyncpg.Pool, jobs: JobQueue, tmp_path: Path
) -> None:
    library_id = await make_library(pool, "movies", tmp_path)
    gateway = ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)
    first = await gateway.start(library_id)
    second = await gateway.start(library_id, full=True)
    rows = await pool.fetch("SELECT task_name, queue_name, lock, args FROM procrastinate_jobs")
    assert first == second
    assert [dict(r) for r in rows] == [
        {
            "task_name": "catalog:scan_library",
            "queue_name": "scans",
            "lock": f"library-scan:{library_id}",
            "args": {"scan_id": str(first)},
        }
    ]


async def test_an_active_scan_that_lost_its_job_gets_one_again(
    pool: asyncpg.Pool, jobs: JobQueue, tmp_path: Path
) -> None:
    make_video(tmp_path / "Mirror (1975).mkv", seconds=0.3)
    library_id = await make_library(pool, "movies", tmp_path)
    async with pool.acquire() as conn:  # queued before scans were jobs: no job
        queued = await enqueue_scan(conn, library_id, full=False)
    assert queued is not None
    worker = ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)
    await worker.start_worker()
    try:
        assert await worker.start(library_id) == queued[0]
        row = await finished(pool, queued[0])
    finally:
        await worker.close()
    assert (row["status"], row["files_new"]) == ("completed", 1)


async def test_a_scan_whose_worker_died_is_taken_over(
    pool: asyncpg.Pool, jobs: JobQueue, tmp_path: Path
) -> None:
    make_video(tmp_path / "Stalker (1979).mkv", seconds=0.3)
    library_id = await make_library(pool, "movies", tmp_path)
    gateway = ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)
    scan_id = await gateway.start(library_id)
    # A worker took the job and the scan, then died: its row is still there (its heartbeat is
    # fresh) but nothing holds its liveness lock any more.
    dead = JobManager(jobs.app.connector)
    dead_worker = await dead.register_worker()
    job = await dead.fetch_job(queues=None, worker_id=dead_worker)
    assert job is not None
    async with pool.acquire() as conn:
        assert await claim_scan(conn, scan_id, "far-away:42:dead") is not None
    worker = ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)
    await worker.start_worker()
    try:
        row = await finished(pool, scan_id)
    finally:
        await worker.close()
    assert (row["status"], row["files_new"], row["worker_id"]) == ("completed", 1, None)
    assert await pool.fetchval("SELECT count(*) FROM procrastinate_jobs") == 0  # succeeded


async def test_a_scan_stopped_with_its_worker_goes_back_to_the_queue(
    pool: asyncpg.Pool, jobs: JobQueue, tmp_path: Path
) -> None:
    for n in range(80):
        make_video(tmp_path / f"Film {n:03d} ({1950 + n}).mkv", seconds=0.2, audio=None)
    library_id = await make_library(pool, "movies", tmp_path)
    worker = ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)
    await worker.start_worker()
    scan_id = await worker.start(library_id)
    while not await pool.fetchval("SELECT count(*) FROM media_files"):  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await worker.close()
    row = await pool.fetchrow("SELECT status, worker_id FROM library_scans WHERE id = $1", scan_id)
    job = await pool.fetchrow("SELECT status, attempts, worker_id FROM procrastinate_jobs")
    assert (row["status"], row["worker_id"]) == ("queued", None)
    assert (job["status"], job["attempts"], job["worker_id"]) == ("todo", 1, None)


async def test_a_scan_whose_job_is_cancelled_ends_as_interrupted(
    pool: asyncpg.Pool, jobs: JobQueue, tmp_path: Path
) -> None:
    for n in range(80):
        make_video(tmp_path / f"Film {n:03d} ({1950 + n}).mkv", seconds=0.2, audio=None)
    library_id = await make_library(pool, "movies", tmp_path)
    worker = ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)
    await worker.start_worker()
    try:
        scan_id = await worker.start(library_id)
        while not await pool.fetchval("SELECT count(*) FROM media_files"):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        job_id = await pool.fetchval("SELECT id FROM procrastinate_jobs")
        assert await jobs.app.job_manager.cancel_job_by_id_async(job_id, abort=True)
        row = await finished(pool, scan_id)
        job = await pool.fetchval("SELECT status FROM procrastinate_jobs WHERE id = $1", job_id)
    finally:
        await worker.close()
    assert (row["status"], row["worker_id"], row["finished_at"] is not None) == (
        "interrupted",
        None,
        True,
    )
    assert job == "aborted"


async def test_active_scans_without_a_job_get_one_when_a_worker_starts(
    pool: asyncpg.Pool, jobs: JobQueue, tmp_path: Path
) -> None:
    orphan_library = await make_library(pool, "movies", tmp_path / "a")
    queued_library = await make_library(pool, "movies", tmp_path / "b")
    async with pool.acquire() as conn:  # queued before scans were jobs: no job
        orphan = await enqueue_scan(conn, orphan_library, full=False)
    service = ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)
    queued = await service.start(queued_library)  # has its job
    assert orphan is not None

    requeued = await service.requeue_orphans()
    again = await service.requeue_orphans()

    assert (requeued, again) == ([orphan[0]], [])
    args = await pool.fetch("SELECT args FROM procrastinate_jobs ORDER BY id")
    assert [a["args"] for a in args] == [{"scan_id": str(queued)}, {"scan_id": str(orphan[0])}]
