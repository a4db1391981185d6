"""Running things for the CLI: the server, a worker, one subgraph alone, a one-off scan. The HTTP
server itself (granian, uvicorn) is in ``gateway.http_server``."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import structlog
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from starlette.applications import Starlette

from gateway.cluster import ClusterView
from gateway.http_server import (
    event_loop_factory,
    granian_server,
    serve_app,
    serve_granian,
    serve_uvicorn,
    tune_garbage_collector,
)
from infra.bus import open_bus
from infra.database import open_database
from infra.errors import NotFound
from infra.jobs import JobQueue, open_job_queue, stop_worker
from infra.logging import configure_logging
from infra.settings import Settings
from resolvers.catalog.bootstrap import LibrarySpec, ensure_library, find_library
from resolvers.catalog.scan_service import ScanService
from resolvers.catalog.scanning import FINISHED, scan_event
from resolvers.catalog.scans import fetch_scan

__all__ = [
    "event_loop_factory",
    "granian_server",
    "run_server",
    "run_subgraph",
    "run_worker",
    "scan_once",
    "serve_app",
    "serve_granian",
    "serve_uvicorn",
    "tune_garbage_collector",
]

log = structlog.get_logger("revenge")


def run_server(
    settings: Settings, libraries: list[LibrarySpec], *, cluster: ClusterView | None = None
) -> int:
    """``revenge serve``: ``server.workers`` processes under a supervisor (``gateway.cluster``)
    when that is more than one, else the server in this process. ``cluster``: this is one of
    the supervisor's processes."""
    workers = settings.effective_server_workers
    if cluster is None and workers > 1:
        if _granian_available():
            from gateway.cluster import run_cluster

            return run_cluster(settings, libraries, workers, serve_one)
        log.warning("granian is not available: serving in one process")
    from gateway.app import create_app

    configure_logging(settings.log_level, settings.log_format)

    async def on_started(app: Starlette) -> None:
        tune_garbage_collector()
        if cluster is None:
            log.info(
                "revenge is serving",
                url=f"http://{settings.server_host}:{settings.server_port}/",
                graphql=f"http://{settings.server_host}:{settings.server_port}/graphql",
                database="embedded" if settings.database_url is None else "external",
            )
        else:
            cluster.mark_ready()
        for spec in libraries:
            library_id, _ = await ensure_library(app.state.database.pool, spec)
            asyncio.get_running_loop().create_task(
                show_progress(app.state.bus.subscribe(f"library_scan:{library_id}"), spec.path)
            )

    app = create_app(settings, libraries=libraries, on_started=on_started, cluster=cluster)
    return serve_app(app, settings, shared_port=cluster is not None)


def _granian_available() -> bool:
    try:
        import granian.server.embed  # noqa: F401
    except ImportError:
        return False
    return True


def serve_one(
    settings: Settings, libraries: list[LibrarySpec], cluster: ClusterView, supervisor: int
) -> None:
    """One server process (the target the supervisor spawns)."""
    _stop_with_supervisor(supervisor)
    raise SystemExit(run_server(settings, libraries, cluster=cluster))


def _stop_with_supervisor(supervisor: int) -> None:
    """Stop this process when the supervisor is gone (killed with SIGKILL, it could not tell
    us): a process of its own never outlives it holding the port."""

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


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
    jobs = await _open_jobs(database.url, settings)
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


async def _open_jobs(url: str, settings: Settings) -> JobQueue:
    from gateway.app import job_blueprints

    return await open_job_queue(
        url, job_blueprints(), max_connections=settings.worker_concurrency + 4
    )


async def run_worker(settings: Settings) -> int:
    """A worker process: runs jobs (scans, …) from the shared database until SIGINT/SIGTERM,
    then hands the jobs still running back to the queue for the next worker."""
    from gateway.app import job_context

    configure_logging(settings.log_level, settings.log_format)
    database = await open_database(settings)
    bus = open_bus(settings, database)
    jobs = await _open_jobs(database.url, settings)
    scans = ScanService.from_settings(database.pool, bus, jobs, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await scans.requeue_orphans()
    from gateway.app import GENERAL_QUEUES
    from gateway.transcoding import open_transcoding
    from gateway.webhooks import open_webhooks
    from gateway.worker_app import serve_worker_http, worker_http_app
    from infra.signing import StreamSigner

    transcoding = await open_transcoding(
        settings,
        database.pool,
        bus,
        jobs,
        address=_worker_address(settings),
        lease_seconds=settings.playback_lease_seconds,
        runs_jobs=True,
    )
    signer = StreamSigner.for_data_dir(settings.data_dir)
    http = await serve_worker_http(
        worker_http_app(database, {**transcoding.services(), "stream_signer": signer}),
        settings.server_host,
        settings.worker_http_port,
    )
    context = {**job_context(database.pool, bus, settings, scans), "jobs": jobs}
    worker = jobs.start_worker(
        concurrency=settings.worker_concurrency,
        queues=GENERAL_QUEUES,
        additional_context=context,
    )
    transcoding.start_worker(jobs, context, settings)
    webhooks = open_webhooks(settings, database.pool, bus)
    webhooks.start_worker(jobs, context, settings)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        log.info("worker started", concurrency=settings.worker_concurrency, tasks=jobs.task_names)
        await asyncio.wait([stopping, worker], return_when=asyncio.FIRST_COMPLETED)
        if worker.done():
            log.error("worker failed", error=repr(worker.exception()))
            return 1
        log.info("worker stopping")
        return 0
    finally:
        stopping.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await stop_worker(worker)
        await transcoding.close()
        await webhooks.close()
        await http.close()
        await scans.close()
        await jobs.close()
        await bus.close()
        await database.close()


def _worker_address(settings: Settings) -> str:
    """Where gateways reach this worker when ``worker.address`` is unset: its host name when it
    listens on every interface (a container on a compose network), else the address it binds."""
    host = settings.server_host
    if host in ("0.0.0.0", "::"):
        host = socket.gethostname()
    return f"http://{host}:{settings.worker_http_port}"


def run_subgraph(settings: Settings, name: str) -> int:
    """One subgraph as a standalone federation service, as a router would reach it."""
    from gateway.subgraph_app import subgraph_app

    configure_logging(settings.log_level, settings.log_format)
    app = subgraph_app(settings, name)
    log.info("serving subgraph", subgraph=name, port=settings.server_port)
    return serve_app(app, settings)
