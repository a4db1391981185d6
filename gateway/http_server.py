"""The HTTP server under the app: granian (embedded) by default, uvicorn as the fallback.

Kept apart from the CLI runners (``gateway.serve``) so benchmarks and tests start exactly the
server ``revenge serve`` runs.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
from typing import Any

import structlog
import uvicorn

from infra.settings import Settings

__all__ = [
    "address_taken",
    "event_loop_factory",
    "granian_server",
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


def address_taken(host: str, port: int) -> OSError | None:
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


async def serve_granian(server: Any, *, shared_port: bool = False) -> int:
    """Run an embedded granian server until SIGINT/SIGTERM (a second one stops it at once,
    skipping the lifespan shutdown). 0 after a clean stop; 1 when it could not start (address in
    use, lifespan start-up failed) or its worker died. ``shared_port``: one of several server
    processes on the port (``gateway.cluster``, which checked the address once)."""
    taken = None if shared_port else address_taken(server.bind_addr, server.bind_port)
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

    # One of several processes: a terminal's Ctrl-C reaches the whole process group, but only
    # the supervisor acts on it (it sends each process SIGTERM, in order).
    signums = (signal.SIGTERM,) if shared_port else (signal.SIGINT, signal.SIGTERM)
    if shared_port:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in signums:
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
        for signum in signums:
            loop.remove_signal_handler(signum)
    return 1 if server.interrupt_children or signals > 1 else 0


def event_loop_factory() -> Any:
    """The loop `revenge serve` runs on: uvloop when installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def serve_app(app: Any, settings: Settings, *, shared_port: bool = False) -> int:
    """Serve ``app`` on the configured address as ``revenge serve`` does: granian when it can be
    imported, else uvicorn. Returns the process exit code. ``shared_port``: one of the
    processes of ``gateway.cluster``, all on the same port."""
    try:
        import granian.server.embed  # noqa: F401
    except ImportError as error:
        log.warning("granian is not available, serving with uvicorn", error=str(error))
        return serve_uvicorn(app, settings)
    server = granian_server(app, settings.server_host, settings.server_port)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(serve_granian(server, shared_port=shared_port))


def tune_garbage_collector() -> None:
    """Start-up objects (schema, modules) live as long as the process: move them out of the
    collector's sight, and let it run less often, since a grid page allocates many short-lived
    dictionaries. Called once the server is up."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
