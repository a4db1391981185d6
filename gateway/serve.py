"""Running things for the CLI: the server, one subgraph alone, a one-off scan."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
import uvicorn
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route, WebSocketRoute

from gateway.auth import (
    authenticate,
    close_auth_services,
    credentials_from,
    open_auth_services,
)
from infra.bus import open_bus
from infra.database import open_database
from infra.errors import NotFound
from infra.jobs import JobQueue, open_job_queue, stop_worker
from infra.logging import configure_logging
from infra.settings import Settings
from loaders import Loaders
from loaders.context import Context
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


# `revenge serve` runs the app under granian, embedded: the app object in this process's event
# loop, as uvicorn ran it, so the lifespan and its `on_started` hook work unchanged. granian offers
# the ASGI `http.response.pathsend` extension: Starlette's FileResponse hands it a whole file and
# granian sends it from Rust (bench/stream.py: 1.3-1.7 x nginx on loopback), where under uvicorn
# Starlette reads 64 KiB chunks in Python (~0.55 x). uvicorn stays the fallback when granian cannot
# be imported (a platform without its wheel).

# Connections waiting to be accepted, and connections served at once. granian's `backpressure`
# caps *open connections* per worker, not requests in flight: an idle HTTP/1.1 keep-alive
# connection or an open WebSocket (a subscription) holds its slot, and the next connection waits
# unserved until one closes (measured: with 16, 84 of 100 keep-alive readers waited ~1.3 s for
# their first byte). Embedded, it defaults to the backlog, 128; uvicorn has no such cap. A waiting
# connection costs nothing in Python, so the cap is only a guard against runaway fan-in.
GRANIAN_BACKLOG = 1024
GRANIAN_MAX_CONNECTIONS = 8192
_GRANIAN_NOISE = ("Embedded server is experimental!",)


def serve_uvicorn(app: Any, settings: Settings) -> int:
    """``app`` under uvicorn (the fallback, and the benchmarks' reference)."""
    config = uvicorn.Config(
        app,
        host=settings.server_host,
        port=settings.server_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the SIGINT it handled after a clean shutdown
    return 0 if server.started else 1


class _QuietGranian(logging.Handler):
    """granian's log lines (``_granian`` and its children, named after its Rust modules), handed
    to the root logger's handlers, without its experimental-mode warning or the traceback it
    logs for each connection still open at shutdown (a WebSocket waiting in ``receive`` is
    cancelled: not an app error)."""

    def emit(self, record: logging.LogRecord) -> None:
        if self.keep(record):
            logging.getLogger().handle(record)

    def keep(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in _GRANIAN_NOISE:
            return False
        if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
            return False
        return not (
            message.startswith("Application callable raised an exception")
            and message.rstrip().endswith("CancelledError: Future cancelled.")
        )


def granian_server(app: Any, host: str, port: int) -> Any:
    """The embedded granian server for ``app`` on ``host:port``: ASGI with lifespan, HTTP/1.1 and
    WebSockets, no access log, its own log lines (warnings and up) through the root logger."""
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels
    from granian.server.embed import Server

    # granian applies its log config with `logging.config.dictConfig`, which re-enables every
    # logger something else disabled (pycasbin disables its own, which then print the policy
    # model): keep each one as it was.
    disabled = {
        name: logger.disabled
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    server = Server(
        app,
        address=host,
        port=port,
        interface=Interfaces.ASGI,  # with lifespan
        http=HTTPModes.http1,  # as uvicorn: no cleartext HTTP/2 to detect on every connection
        websockets=True,
        backlog=GRANIAN_BACKLOG,
        backpressure=GRANIAN_MAX_CONNECTIONS,
        log_level=LogLevels.warning,
        log_access=False,
        # Through the root handler `configure_logging` set up (see `_QuietGranian`) instead of
        # granian's own stdout handler.
        log_dictconfig={
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {},
            "handlers": {},
            "loggers": {
                "_granian": {"propagate": False},
                "granian.access": {"level": "WARNING", "propagate": False},
            },
        },
    )
    for name, was_disabled in disabled.items():
        logging.getLogger(name).disabled = was_disabled
    granian_log = logging.getLogger("_granian")
    if not any(isinstance(handler, _QuietGranian) for handler in granian_log.handlers):
        granian_log.addHandler(_QuietGranian())
    return server


def _address_taken(host: str, port: int) -> OSError | None:
    """Whether something already listens on ``host:port``. granian binds with ``SO_REUSEPORT``,
    so a second server on a taken port would start and share the connections instead of
    failing as uvicorn did; a plain bind first (``SO_REUSEADDR``: a stopped server's TIME_WAIT
    connections are no obstacle) refuses it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error
    return None


async def serve_granian(server: Any) -> int:
    """Run an embedded granian server until SIGINT/SIGTERM (a second one stops it at once,
    skipping the lifespan shutdown). 0 after a clean stop; 1 when it could not start (address in
    use, lifespan start-up failed) or its worker died."""
    taken = _address_taken(server.bind_addr, server.bind_port)
    if taken is not None:
        log.error(
            "could not listen", address=f"{server.bind_addr}:{server.bind_port}", error=str(taken)
        )
        return 1
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            server.stop()
        else:
            log.warning("stopping now, without the shutdown")
            for worker in list(server.wrks):
                worker.kill()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    try:
        await server.serve()
    except asyncio.CancelledError:
        if signals < 2:
            raise
        return 1
    except Exception as error:  # OSError (address in use), granian's FatalError (lifespan)
        log.error("the server could not start or stopped on an error", error=str(error))
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 1 if server.interrupt_children or signals > 1 else 0


def event_loop_factory() -> Any:
    """The loop `revenge serve` runs on: uvloop when installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def serve_app(app: Any, settings: Settings) -> int:
    """Serve ``app`` on the configured address as ``revenge serve`` does: granian when it can be
    imported, else uvicorn. Returns the process exit code."""
    try:
        import granian.server.embed  # noqa: F401
    except ImportError as error:
        log.warning("granian is not available, serving with uvicorn", error=str(error))
        return serve_uvicorn(app, settings)
    server = granian_server(app, settings.server_host, settings.server_port)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(serve_granian(server))


def tune_garbage_collector() -> None:
    """Start-up objects (schema, modules) live as long as the process: move them out of the
    collector's sight, and let it run less often, since a grid page allocates many short-lived
    dictionaries. Called once the server is up."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def run_server(settings: Settings, libraries: list[LibrarySpec]) -> int:
    from gateway.app import create_app

    configure_logging(settings.log_level, settings.log_format)

    async def on_started(app: Starlette) -> None:
        tune_garbage_collector()
        log.info(
            "revenge is serving",
            url=f"http://{settings.server_host}:{settings.server_port}/graphql",
            database="embedded" if settings.database_url is None else "external",
        )
        for spec in libraries:
            library_id, _ = await ensure_library(app.state.database.pool, spec)
            asyncio.get_running_loop().create_task(
                show_progress(app.state.bus.subscribe(f"library_scan:{library_id}"), spec.path)
            )

    return serve_app(create_app(settings, libraries=libraries, on_started=on_started), settings)


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
    bus = open_bus(settings)
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
    bus = open_bus(settings)
    jobs = await _open_jobs(database.url, settings)
    scans = ScanService.from_settings(database.pool, bus, jobs, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await scans.requeue_orphans()
    from gateway.app import GENERAL_QUEUES
    from gateway.transcoding import open_transcoding
    from gateway.worker_app import serve_worker_http, worker_http_app
    from infra.signing import StreamSigner

    transcoding = await open_transcoding(
        settings,
        database.pool,
        bus,
        jobs,
        address=f"http://{settings.server_host}:{settings.worker_http_port}",
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
        await http.close()
        await scans.close()
        await jobs.close()
        await bus.close()
        await database.close()


def run_subgraph(settings: Settings, name: str) -> int:
    """One subgraph as a standalone federation service, as a router would reach it."""
    from strawberry.asgi import GraphQL

    from gateway.schema import subgraph_schema

    configure_logging(settings.log_level, settings.log_format)
    schema = subgraph_schema(name)
    state: dict[str, Any] = {}

    class SubgraphGraphQL(GraphQL):
        async def get_context(  # type: ignore[override]
            self, request: Any, response: Any = None
        ) -> Context:
            # A router forwards the caller's credentials; the subgraph authenticates them itself.
            pool = state["database"].pool
            token, api_key = credentials_from(request.headers)
            principal, session_id = await authenticate(
                pool, state["services"]["key_ring"], token, api_key
            )
            return Context(
                pool=pool,
                loaders=Loaders(pool, state["services"]["authz"].visibility(principal)),
                bus=state["bus"],
                settings=settings,
                services=state["services"],
                request_id=uuid.uuid4().hex,
                principal=principal,
                session_id=session_id,
                client_address=request.client.host if request.client else None,
            )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["database"] = await open_database(settings)
        state["bus"] = open_bus(settings)
        jobs = await _open_jobs(state["database"].url, settings)
        scans = ScanService.from_settings(state["database"].pool, state["bus"], jobs, settings)
        auth_services = await open_auth_services(settings, state["database"].pool, state["bus"])
        state["services"] = {"scans": scans, **auth_services}
        try:
            yield
        finally:
            await scans.close()
            await jobs.close()
            await close_auth_services(auth_services)
            await state["database"].close()

    async def live(request: Request) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse({"status": "ok", "subgraph": name})

    graphql_app = SubgraphGraphQL(schema, allow_queries_via_get=True)
    app = Starlette(
        routes=[
            Route("/health/live", live),
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql_app),
        ],
        lifespan=lifespan,
    )
    log.info("serving subgraph", subgraph=name, port=settings.server_port)
    return serve_app(app, settings)
