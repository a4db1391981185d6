"""Seek thumbnails as jobs: ``trickplay:backfill`` makes the sheets a library's files lack.

Deferred when a scan finishes (one job per library at a time: a queueing lock), it takes the
next batch of files without trickplay (``files_missing_trickplay``), makes their sheets one by
one (``generate_trickplay``; a file that fails is logged and left), and defers itself again
while a batch made progress, so a large library is worked through in small, restartable steps.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from procrastinate import Blueprint, JobContext

from infra.jobs import JobQueue
from resolvers.catalog.trickplay import files_missing_trickplay, generate_trickplay

__all__ = ["BATCH", "NAMESPACE", "TRICKPLAY_QUEUE", "blueprint", "defer_backfill"]

log = structlog.get_logger("revenge.trickplay")

NAMESPACE = "trickplay"
TRICKPLAY_QUEUE = "trickplay"
BATCH = 20


def blueprint() -> Blueprint:
    tasks = Blueprint()
    tasks.task(name="backfill", queue=TRICKPLAY_QUEUE, pass_context=True)(backfill)
    return tasks


def _lock(library_id: str | None) -> str:
    return f"trickplay:{library_id or 'all'}"


async def defer_backfill(jobs: JobQueue, library_id: uuid.UUID | None) -> None:
    key = str(library_id) if library_id is not None else None
    await jobs.defer(
        f"{NAMESPACE}:backfill",
        queue=TRICKPLAY_QUEUE,
        queueing_lock=_lock(key),
        lock=_lock(key),
        library_id=key,
    )


async def backfill(context: JobContext, library_id: str | None) -> int:
    """Make one batch of sheets; returns how many files got them."""
    extra: dict[str, Any] = context.additional_context
    pool, settings, jobs = extra["pool"], extra["settings"], extra["jobs"]
    library = uuid.UUID(library_id) if library_id is not None else None
    made = 0
    for file_id in await files_missing_trickplay(pool, library, BATCH):
        try:
            if await generate_trickplay(pool, settings.data_dir, file_id) is not None:
                made += 1
        except Exception as error:  # one bad file must not stop the library
            log.warning("trickplay failed", file_id=str(file_id), error=str(error))
    if made:
        await defer_backfill(jobs, library)
    return made
