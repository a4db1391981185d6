"""`revenge serve` on every core: one supervisor and ``server.workers`` server processes.

The supervisor (the process the user started) opens the database once: it starts the embedded
PostgreSQL when no URL is set and applies the migrations, so the server processes never race
each other for either. It then starts the server processes, each a fresh interpreter
(multiprocessing's *spawn*: nothing of the supervisor's event loop, pool or threads is
inherited) with its own pool and event loop, all listening on the same port: granian binds with
``SO_REUSEPORT``, and the kernel spreads new connections across the listening processes.

What the processes must share lives outside them (PostgreSQL, or Redis when configured): the
event bus, rate limits, lockouts, WebSocket places, heartbeats, leases. The in-process job worker
runs in exactly one of them (``infra.leadership``). What only the supervisor knows — how many
of them are up — it writes to a small shared-memory array every process reads for
``/health/ready``; ``/metrics`` adds up every process's series through prometheus-client's
multiprocess mode (a folder of per-process files the supervisor creates and removes).

A process that dies is started again (after a pause that grows while it keeps dying young); its
clients reconnect and land on the others meanwhile. SIGINT/SIGTERM stops every process (each
finishes its lifespan shutdown), then the embedded PostgreSQL; a second signal kills them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import structlog

from gateway.http_server import address_taken
from infra.database import open_database
from infra.logging import configure_logging
from infra.metrics import MULTIPROCESS_DIR_ENV as METRICS_DIR_ENV
from infra.settings import Settings
from media.child_python import safe_path_environment
from resolvers.catalog.bootstrap import LibrarySpec

__all__ = ["ClusterView", "ServerTarget", "run_cluster"]

log = structlog.get_logger("revenge")

# A process that dies sooner than this after starting is "dying young": the pause before the
# next start doubles, up to the maximum, so a broken setup does not spin.
YOUNG_SECONDS = 10.0
FIRST_PAUSE_SECONDS = 0.5
MAX_PAUSE_SECONDS = 30.0
# How long the processes get to finish their shutdown before they are killed.
STOP_SECONDS = 30.0


@dataclass(frozen=True)
class ClusterView:
    """What a server process knows of the cluster: its index, the number of processes, and the
    shared array of each one's pid while it is ready to serve (0 otherwise)."""

    index: int
    size: int
    ready: Any  # multiprocessing RawArray('q', size + 1); the last slot: 1 once all were up

    def mark_ready(self) -> None:
        self.ready[self.index] = os.getpid()

    def ready_count(self) -> int:
        return sum(1 for pid in self.ready[: self.size] if pid)

    @property
    def serving(self) -> bool:
        """Whether every process has been ready once (the supervisor said "serving")."""
        return bool(self.ready[self.size])


# A server process's body: (settings, libraries, its view of the cluster, the supervisor's pid).
ServerTarget = Callable[[Settings, list[LibrarySpec], "ClusterView", int], None]


def run_cluster(
    settings: Settings, libraries: Sequence[LibrarySpec], workers: int, target: ServerTarget
) -> int:
    """Run ``workers`` server processes (each runs ``target``, a module-level function spawn
    can import) until SIGINT/SIGTERM; the process exit code."""
    configure_logging(settings.log_level, settings.log_format)
    taken = address_taken(settings.server_host, settings.server_port)
    if taken is not None:
        log.error(
            "could not listen",
            address=f"{settings.server_host}:{settings.server_port}",
            error=str(taken),
        )
        return 1
    database = asyncio.run(_open_once(settings))
    metrics_dir = tempfile.mkdtemp(prefix="revenge-metrics-")
    previous_metrics_dir = os.environ.get(METRICS_DIR_ENV)
    os.environ[METRICS_DIR_ENV] = metrics_dir  # inherited by the spawned processes
    try:
        child_settings = dataclasses.replace(settings, database_url=database.url)
        supervisor = _Supervisor(child_settings, list(libraries), workers, settings, target)
        return supervisor.run()
    finally:
        if previous_metrics_dir is None:
            os.environ.pop(METRICS_DIR_ENV, None)
        else:
            os.environ[METRICS_DIR_ENV] = previous_metrics_dir
        shutil.rmtree(metrics_dir, ignore_errors=True)
        if database.embedded is not None:
            database.embedded.stop()
        log.info("revenge stopped")


async def _open_once(settings: Settings) -> Any:
    """The embedded server started (when no URL is set) and migrations applied; the pool is
    closed again, the server processes open their own."""
    database = await open_database(settings)
    await database.pool.close()
    return database


class _Supervisor:
    def __init__(
        self,
        settings: Settings,
        libraries: list[LibrarySpec],
        size: int,
        original: Settings,
        target: ServerTarget,
    ) -> None:
        self.target = target
        self.settings = settings
        self.original = original
        self.libraries = libraries
        self.size = size
        self.context = multiprocessing.get_context("spawn")
        self.ready = self.context.RawArray("q", size + 1)
        self.processes: list[BaseProcess | None] = [None] * size
        self.started_at = [0.0] * size
        self.pauses = [0.0] * size
        self.restart_at = [0.0] * size
        self.stopping = threading.Event()
        self.signals = 0

    def run(self) -> int:
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for index in range(self.size):
                self._start(index, libraries=self.libraries if index == 0 else [])
            if not self._wait_all_ready():
                stopped = self._stop_all()
                # Asked to stop while starting: a clean stop. A process that could not start: 1.
                return stopped if self.stopping.is_set() else 1
            self.ready[self.size] = 1
            log.info(
                "revenge is serving",
                url=f"http://{self.settings.server_host}:{self.settings.server_port}/",
                graphql=f"http://{self.settings.server_host}:{self.settings.server_port}/graphql",
                database="embedded" if self.original.database_url is None else "external",
                processes=self.size,
            )
            self._supervise()
            return self._stop_all()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signals += 1
        self.stopping.set()
        if self.signals > 1:
            log.warning("stopping now, without the shutdown")
            for process in self.processes:
                if process is not None and process.is_alive():
                    process.kill()

    def _start(self, index: int, libraries: Sequence[LibrarySpec] = ()) -> None:
        self.ready[index] = 0
        view = ClusterView(index=index, size=self.size, ready=self.ready)
        process = self.context.Process(
            target=self.target,
            args=(self.settings, list(libraries), view, os.getpid()),
            name=f"revenge-server-{index}",
            daemon=False,
        )
        with safe_path_environment():  # the new Python imports nothing from the current folder
            process.start()
        self.processes[index] = process
        self.started_at[index] = time.monotonic()

    def _wait_all_ready(self) -> bool:
        """True once every process is ready; False when one exits first or a signal arrives."""
        while not self.stopping.is_set():
            if all(self.ready[index] for index in range(self.size)):
                return True
            for process in self.processes:
                if process is not None and process.exitcode is not None:
                    log.error("a server process could not start", exit_code=process.exitcode)
                    return False
            self.stopping.wait(0.05)
        return False

    def _supervise(self) -> None:
        while not self.stopping.wait(0.25):
            now = time.monotonic()
            for index, process in enumerate(self.processes):
                if process is None:
                    if now >= self.restart_at[index]:
                        self._start(index)
                    continue
                if process.exitcode is None:
                    continue
                self.ready[index] = 0
                _forget_metrics_of(process.pid)
                lived = now - self.started_at[index]
                pause = (
                    min(MAX_PAUSE_SECONDS, max(FIRST_PAUSE_SECONDS, self.pauses[index] * 2))
                    if lived < YOUNG_SECONDS
                    else 0.0
                )
                self.pauses[index] = pause
                log.error(
                    "a server process stopped; starting another",
                    process=index,
                    exit_code=process.exitcode,
                    lived_seconds=round(lived, 1),
                    restart_in_seconds=pause,
                )
                self.processes[index] = None
                self.restart_at[index] = now + pause

    def _stop_all(self) -> int:
        running = [p for p in self.processes if p is not None and p.exitcode is None]
        for process in running:
            if process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                log.warning("a server process did not stop in time; killing it", pid=process.pid)
                process.kill()
                process.join(5)
        codes = [p.exitcode for p in running]
        for process in running:
            if process.exitcode != 0:
                log.warning("a server process stopped on an error", exit_code=process.exitcode)
        return 0 if self.signals <= 1 and all(code == 0 for code in codes) else 1


def _forget_metrics_of(pid: int | None) -> None:
    """A dead process's gauges leave the sums (its counters stay: Prometheus counts them)."""
    if pid is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
