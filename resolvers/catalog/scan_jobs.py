"""Library scans as jobs on the job queue (``infra.jobs``).

``ScanService.start`` writes the ``library_scans`` row and defers ``catalog:scan_library``;
whichever worker takes the job runs ``LibraryScanner`` on it. Jobs of one library share a
procrastinate lock, so one runs at a time; a worker that stops hands the scan back (the row
returns to ``queued``, the job to the queue) and the next one resumes from what was stored;
a worker that dies loses the job to another (``JobQueue.retry_stalled_jobs``).

The worker passes, in the job context's ``additional_context``: ``pool`` and ``bus``, and
``scans``, the ``ScanService`` of its process (its scanner and probe processes).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog
from procrastinate import Blueprint, JobContext
from procrastinate.job_context import AbortReason

from infra.bus import EventBus
from infra.jobs import HAND_BACK_ON_SHUTDOWN
from resolvers.catalog.scan_queue import claim_scan, interrupt_scan, new_worker_id, requeue_scan
from resolvers.catalog.scanning import scan_event
from resolvers.catalog.trickplay_jobs import defer_backfill

if TYPE_CHECKING:
    from resolvers.catalog.scan_service import ScanService

__all__ = ["NAMESPACE", "SCAN_QUEUE", "SCAN_TASK", "blueprint", "scan_library", "scan_lock"]

log = structlog.get_logger("revenge.scan")

NAMESPACE = "catalog"
SCAN_QUEUE = "scans"
SCAN_TASK = f"{NAMESPACE}:scan_library"


def scan_lock(library_id: uuid.UUID) -> str:
    """The procrastinate lock of a library's scan jobs: one runs at a time."""
    return f"library-scan:{library_id}"


def blueprint() -> Blueprint:
    """The catalog's tasks, fresh for each job queue (loading a blueprint into an app
    renames its tasks, so one blueprint serves one app)."""
    tasks = Blueprint()
    tasks.task(
        name="scan_library",
        queue=SCAN_QUEUE,
        pass_context=True,
        retry=HAND_BACK_ON_SHUTDOWN,
    )(scan_library)
    return tasks


async def scan_library(context: JobContext, scan_id: str) -> None:
    """Run the scan to its end; stopped, hand it back; cancelled, mark it interrupted."""
    extra: dict[str, Any] = context.additional_context
    pool: asyncpg.Pool = extra["pool"]
    bus: EventBus = extra["bus"]
    scans: ScanService = extra["scans"]
    scan = uuid.UUID(scan_id)
    worker = new_worker_id(f"job{context.job.id}")
    async with pool.acquire() as conn:
        claim = await claim_scan(conn, scan, worker)
    if claim is None:
        log.info("scan no longer active, nothing to do", scan_id=scan_id)
        return
    try:
        await scans.scanner.run(claim.scan_id, claim.library_id, claim.full)
    except asyncio.CancelledError:
        user_request = context.abort_reason() == AbortReason.USER_REQUEST
        await asyncio.shield(_stopped(pool, bus, scan, worker, interrupted=user_request))
        raise
    jobs = extra.get("jobs")
    if jobs is not None:  # new and changed files get their seek thumbnails next
        await defer_backfill(jobs, claim.library_id)


async def _stopped(
    pool: asyncpg.Pool, bus: EventBus, scan_id: uuid.UUID, worker: str, *, interrupted: bool
) -> None:
    async with pool.acquire() as conn:
        if interrupted:
            row = await interrupt_scan(conn, scan_id)
        else:
            row = await requeue_scan(conn, scan_id, worker)
    if row is not None:
        await bus.publish(f"library_scan:{row['library_id']}", scan_event(row))
