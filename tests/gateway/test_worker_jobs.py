"""`revenge worker` processes and the job queue: a killed worker's scan is taken over, a
stopped one's is handed back, and another worker finishes it either way."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import asyncpg
import pytest

from gateway.app import job_blueprints
from infra.bus import InProcessBus
from infra.jobs import JobQueue, open_job_queue
from resolvers.catalog.scan_service import ScanService
from tests.gateway.test_app import REVENGE_ENV_CLEAN
from tests.gateway.test_cli import REVENGE
from tests.resolvers.catalog.test_scan_queue import finished
from tests.resolvers.catalog.test_scanning import make_library
from tests.support.media_files import make_video

FILES = 80


@pytest.fixture
async def gateway(pool: asyncpg.Pool, database_url: str) -> AsyncIterator[ScanService]:
    """A scan service that queues and runs nothing itself, as a gateway without a worker."""
    jobs: JobQueue = await open_job_queue(database_url, job_blueprints())
    try:
        yield ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)
    finally:
        await jobs.close()


def output_file(data_dir: Path) -> BinaryIO:
    data_dir.mkdir()
    return (data_dir / "output.txt").open("wb")


async def worker_process(database_url: str, data_dir: Path) -> asyncio.subprocess.Process:
    """`revenge worker` in a session of its own: killing its group kills its probe processes
    too, as a container's end would."""
    with output_file(data_dir) as output:
        return await asyncio.create_subprocess_exec(
            REVENGE,
            "worker",
            env={
                **REVENGE_ENV_CLEAN(),
                "REVENGE_DATABASE_URL": database_url,
                "REVENGE_DATA_DIR": str(data_dir),
                "REVENGE_PROBE_WORKERS": "1",
                "REVENGE_WORKER_CONCURRENCY": "1",
            },
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )


async def stop(worker: asyncio.subprocess.Process, data_dir: Path) -> str:
    """SIGTERM, then its exit; what it printed."""
    worker.send_signal(signal.SIGTERM)
    await asyncio.wait_for(worker.wait(), 30)
    return (data_dir / "output.txt").read_text()


def movie_folder(root: Path) -> None:
    root.mkdir()
    for n in range(FILES):
        make_video(root / f"Film {n:03d} ({1950 + n}).mkv", seconds=0.2, audio=None)


async def library_half_scanned(
    pool: asyncpg.Pool, gateway: ScanService, root: Path
) -> tuple[uuid.UUID, uuid.UUID]:
    movie_folder(root)
    library_id = await make_library(pool, "movies", root)
    scan_id = await gateway.start(library_id)
    return library_id, scan_id


async def first_batch_stored(pool: asyncpg.Pool) -> None:
    async with asyncio.timeout(60):
        while not await pool.fetchval("SELECT count(*) FROM media_files"):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def scan_jobs_done(pool: asyncpg.Pool) -> None:
    """Wait (up to 30 s) until no scan job is left: the worker marks the scan completed a moment
    before its job is done, so stopping it right at the scan's end would race the job's end."""
    query = "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'catalog:scan_library'"
    async with asyncio.timeout(30):
        while await pool.fetchval(query):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def finish_with_another_worker(
    pool: asyncpg.Pool, database_url: str, data_dir: Path, scan_id: uuid.UUID
) -> tuple[asyncpg.Record, int, str]:
    second = await worker_process(database_url, data_dir)
    try:
        row = await finished(pool, scan_id)
        await scan_jobs_done(pool)
    finally:
        output = await stop(second, data_dir)
    assert second.returncode is not None
    return row, second.returncode, output


async def test_a_scan_whose_worker_was_killed_is_taken_over_by_another_worker(
    pool: asyncpg.Pool, database_url: str, gateway: ScanService, tmp_path: Path
) -> None:
    first = await worker_process(database_url, tmp_path / "first")
    try:
        _, scan_id = await library_half_scanned(pool, gateway, tmp_path / "movies")
        await first_batch_stored(pool)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        await first.wait()
    stored = await pool.fetchval("SELECT count(*) FROM media_files")
    cut = await pool.fetchrow("SELECT status FROM library_scans WHERE id = $1", scan_id)
    assert cut["status"] == "running"  # nobody handed it back
    assert 0 < stored < FILES

    row, code, output = await finish_with_another_worker(
        pool, database_url, tmp_path / "second", scan_id
    )

    assert code == 0, output
    assert (row["status"], row["files_new"], row["worker_id"]) == (
        "completed",
        FILES - stored,
        None,
    )
    assert await pool.fetchval("SELECT count(*) FROM media_files") == FILES
    assert await pool.fetchval("SELECT count(DISTINCT item_id) FROM media_files") == FILES
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'catalog:scan_library'"
        )
        == 0
    )


async def test_a_worker_stopped_with_sigterm_hands_its_scan_back(
    pool: asyncpg.Pool, database_url: str, gateway: ScanService, tmp_path: Path
) -> None:
    first = await worker_process(database_url, tmp_path / "first")
    try:
        _, scan_id = await library_half_scanned(pool, gateway, tmp_path / "movies")
        await first_batch_stored(pool)
    finally:
        output = await stop(first, tmp_path / "first")
    assert first.returncode == 0, output
    assert "worker started" in output and "worker stopping" in output
    cut = await pool.fetchrow("SELECT status, worker_id FROM library_scans WHERE id = $1", scan_id)
    job = await pool.fetchrow("SELECT status, worker_id FROM procrastinate_jobs")
    assert (cut["status"], cut["worker_id"]) == ("queued", None)
    assert (job["status"], job["worker_id"]) == ("todo", None)
    assert await pool.fetchval("SELECT count(*) FROM procrastinate_workers") == 0
    stored = await pool.fetchval("SELECT count(*) FROM media_files")

    row, code, output = await finish_with_another_worker(
        pool, database_url, tmp_path / "second", scan_id
    )

    assert code == 0, output
    assert (row["status"], row["files_new"]) == ("completed", FILES - stored)
    assert await pool.fetchval("SELECT count(*) FROM media_files") == FILES
