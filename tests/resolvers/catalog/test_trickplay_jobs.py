"""The trickplay backfill job on a real job queue: a worker makes every file's sheets in
batches and stops deferring itself once nothing is left."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from infra.jobs import open_job_queue, stop_worker
from infra.settings import load_settings
from resolvers.catalog import trickplay_jobs
from resolvers.catalog.trickplay import trickplay_dir
from tests.support.catalog_rows import insert_file, insert_item, insert_library, insert_stream
from tests.support.media_files import make_video


async def test_the_backfill_makes_sheets_for_every_video_file(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    library = await insert_library(pool)
    files = []
    for number in range(3):
        path = make_video(tmp_path / f"Film {number}.mkv", seconds=3, width=160, height=90)
        item = await insert_item(pool, library, f"Film {number}")
        file_id = await insert_file(pool, item, library, str(path), size=path.stat().st_size)
        await insert_stream(pool, file_id, 0, "video")
        files.append(file_id)
    settings = load_settings({"REVENGE_DATA_DIR": str(tmp_path / "data")})
    queue = await open_job_queue(
        database_url, {trickplay_jobs.NAMESPACE: trickplay_jobs.blueprint()}
    )
    original_batch = trickplay_jobs.BATCH
    trickplay_jobs.BATCH = 2  # two batches: the job defers itself once
    worker = queue.start_worker(
        concurrency=1,
        queues=[trickplay_jobs.TRICKPLAY_QUEUE],
        additional_context={"pool": pool, "settings": settings, "jobs": queue},
    )
    try:
        await trickplay_jobs.defer_backfill(queue, library)
        async with asyncio.timeout(60):
            while await pool.fetchval("SELECT count(*) FROM trickplay") < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            while await queue.has_unfinished("trickplay:" + str(library)):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        trickplay_jobs.BATCH = original_batch
        await stop_worker(worker)
        await queue.close()

    for file_id in files:
        assert (trickplay_dir(settings.data_dir, file_id) / "index.vtt").exists()
    # Two batches made sheets and deferred again; the third found nothing and did not.
    assert not await queue_has_work(pool)


async def queue_has_work(pool: asyncpg.Pool) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'trickplay:backfill' "
            "AND status IN ('todo', 'doing')"
        )
    )
