"""Deleting a library while it is being scanned stops the scan first: no job writes rows of a
library that is gone (which failed with a ForeignKeyViolationError traceback in the job)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg
import pytest
from procrastinate.exceptions import JobAborted
from structlog.testing import capture_logs

from infra.bus import InProcessBus
from infra.jobs import JobQueue
from resolvers.catalog.libraries import delete_library
from resolvers.catalog.scan_service import ScanService
from subgraphs.catalog.schema import schema
from tests.resolvers.catalog.test_scanning import make_library
from tests.subgraphs.catalog.conftest import make_context
from tests.support.media_files import make_video

DELETE = """mutation($id: ID!) { deleteLibrary(id: $id) {
  __typename ... on DeleteLibraryPayload { deletedId } ... on LibraryError { code } } }"""


async def test_deleting_a_library_mid_scan_stops_the_scan_then_deletes(
    pool: asyncpg.Pool, jobs: JobQueue, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(80):
        make_video(tmp_path / f"Film {n:03d} ({1950 + n}).mkv", seconds=0.2, audio=None)
    library_id = await make_library(pool, "movies", tmp_path)
    bus = InProcessBus()
    worker = ScanService(pool, bus, jobs, probe_workers=1, probe_timeout_s=20)
    await worker.start_worker()
    caplog.set_level(logging.INFO)
    try:
        with capture_logs() as logs:
            scan_id = await worker.start(library_id)
            while not await pool.fetchval("SELECT count(*) FROM media_files"):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            result = await schema.execute(
                DELETE,
                variable_values={"id": str(library_id)},
                context_value=make_context(pool, tmp_path, bus=bus, scans=worker),
            )
            job = await pool.fetchrow("SELECT status FROM procrastinate_jobs")
            # Had anything of the scan kept running, it would fail on its next batch.
            await asyncio.sleep(0.5)
    finally:
        await worker.close()

    assert result.errors is None
    assert result.data == {
        "deleteLibrary": {"__typename": "DeleteLibraryPayload", "deletedId": str(library_id)}
    }
    assert await pool.fetchval("SELECT count(*) FROM libraries") == 0
    assert await pool.fetchval("SELECT count(*) FROM media_files") == 0
    assert await pool.fetchval("SELECT count(*) FROM library_scans WHERE id = $1", scan_id) == 0
    assert [e for e in logs if e["log_level"] in ("error", "critical")] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    # procrastinate may note the aborted job with its JobAborted; no other exception is logged.
    assert {r.exc_info[0] for r in caplog.records if r.exc_info} <= {JobAborted}
    assert "ForeignKeyViolation" not in caplog.text
    assert job is not None and job["status"] == "aborted"  # stopped, not run into the void


async def test_deleting_a_library_without_a_scan_does_not_wait(
    pool: asyncpg.Pool, jobs: JobQueue, tmp_path: Path
) -> None:
    library_id = await make_library(pool, "movies", tmp_path)
    scans = ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)

    async with asyncio.timeout(5):
        await delete_library(pool, scans, library_id)

    assert await pool.fetchval("SELECT count(*) FROM libraries") == 0


async def test_a_queued_scan_is_cancelled_with_its_library(
    pool: asyncpg.Pool, jobs: JobQueue, tmp_path: Path
) -> None:
    library_id = await make_library(pool, "movies", tmp_path)
    scans = ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)
    await scans.start(library_id)  # no worker runs: the job waits

    await delete_library(pool, scans, library_id)

    assert await pool.fetchval("SELECT status FROM procrastinate_jobs") == "cancelled"
    assert await pool.fetchval("SELECT count(*) FROM libraries") == 0
