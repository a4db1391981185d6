"""`revenge scan` and the progress `revenge serve --library` shows: following a library's scan
from its row, on a terminal as a progress bar, otherwise as log lines. Apart from gateway/serve.py
because the scanner's imports (PyAV among them) are heavy and the supervisor of several server
processes imports serve.py without ever scanning."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import structlog
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from infra.bus import open_bus
from infra.database import open_database
from infra.errors import NotFound
from infra.jobs import JobQueue, open_job_queue
from infra.logging import configure_logging
from infra.settings import Settings
from resolvers.catalog.bootstrap import find_library
from resolvers.catalog.scan_service import ScanService
from resolvers.catalog.scanning import FINISHED, scan_event
from resolvers.catalog.scans import fetch_scan

__all__ = ["open_jobs", "poll_scan", "scan_once", "show_progress"]

log = structlog.get_logger("revenge")


async def poll_scan(pool: Any, scan_id: uuid.UUID) -> AsyncIterator[dict[str, Any]]:
    """A scan's row each time it changes, until it finishes, whichever process runs it."""
    last: dict[str, Any] | None = None
    while True:
        row = await fetch_scan(pool, scan_id)
        if row is None:
            return
        event = scan_event(row)
        if event != last:
            yield event
            last = event
        if event["status"] in FINISHED:
            return
        await asyncio.sleep(0.25)


async def show_progress(events: AsyncIterator[dict[str, Any]], label: str) -> dict[str, Any] | None:
    """Follow a library's scan: a progress bar on a terminal, log lines otherwise."""
    last: dict[str, Any] | None = None
    tty = sys.stderr.isatty()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "new {task.fields[new]} changed {task.fields[changed]} failed {task.fields[failed]}"
        ),
        TimeElapsedColumn(),
        transient=False,
        disable=not tty,
    )
    task = progress.add_task(label, total=None, new=0, changed=0, failed=0)
    with progress:
        async for event in events:
            last = event
            done = event["files_new"] + event["files_changed"] + event["files_moved"]
            done += event["files_seen"] - done if event["status"] in FINISHED else 0
            progress.update(
                task,
                total=event["files_seen"] or None,
                completed=min(done, event["files_seen"]),
                new=event["files_new"],
                changed=event["files_changed"],
                failed=event["files_failed"],
            )
            if not tty:
                log.info(
                    "scan progress",
                    library=label,
                    status=event["status"],
                    seen=event["files_seen"],
                    new=event["files_new"],
                    changed=event["files_changed"],
                    moved=event["files_moved"],
                    removed=event["files_removed"],
                    failed=event["files_failed"],
                )
            if event["status"] in FINISHED:
                break
    return last


async def scan_once(settings: Settings, library: str, *, full: bool) -> int:
    configure_logging(settings.log_level, settings.log_format)
    database = await open_database(settings)
    bus = open_bus(settings, database)
    jobs = await open_jobs(database.url, settings)
    scans = ScanService.from_settings(database.pool, bus, jobs, settings)
    try:
        library_id = await find_library(database.pool, library)
        if library_id is None:
            raise NotFound(f"no library named {library!r}")
        # Run here, or follow a running server's worker that takes it first.
        await scans.start_worker()
        scan_id = await scans.start(library_id, full=full)
        last = await show_progress(poll_scan(database.pool, scan_id), library)
        if last is None or last["status"] != "completed":
            status = last["status"] if last else "lost"
            print(f"revenge: scan {status}: {last.get('error') if last else ''}", file=sys.stderr)
            return 1
        return 0
    finally:
        await scans.close()
        await jobs.close()
        await bus.close()
        await database.close()


async def open_jobs(url: str, settings: Settings) -> JobQueue:
    from gateway.app import job_blueprints

    return await open_job_queue(
        url, job_blueprints(), max_connections=settings.worker_concurrency + 4
    )
