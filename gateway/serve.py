"""Running things for the CLI: the server, a worker, one subgraph alone (a one-off scan is in
``gateway.scan_cli``). The HTTP server itself (granian, uvicorn) is in ``gateway.http_server``.
The supervisor of ``revenge serve``'s processes imports this module, so what only a server
process or a worker needs is imported where it is used."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time

import structlog
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
from infra.logging import configure_logging
from infra.settings import Settings
from resolvers.catalog.bootstrap import LibrarySpec, ensure_library

__all__ = [
    "event_loop_factory",
    "granian_server",
    "run_server",
    "run_subgraph",
    "run_worker",
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
    from gateway.scan_cli import show_progress

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


async def run_worker(settings: Settings) -> int:
    """A worker process: runs jobs (scans, …) from the shared database until SIGINT/SIGTERM,
    then hands the jobs still running back to the queue for the next worker."""
    # Imported here, not above: the supervisor of several server processes imports this module
    # and needs none of it.
    from gateway.app import job_context
    from gateway.scan_cli import open_jobs
    from infra.bus import open_bus
    from infra.database import open_database
    from infra.jobs import stop_worker
    from resolvers.catalog.scan_service import ScanService

    configure_logging(settings.log_level, settings.log_format)
    database = await open_database(settings)
    bus = open_bus(settings, database)
    jobs = await open_jobs(database.url, settings)
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
