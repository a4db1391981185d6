"""Running probes in worker processes, with a hard per-file timeout.

A probe can block for a long time (network shares, pathological files) and must never
run on the event loop, and a crash in FFmpeg must not take the server down, so
``ProbePool`` runs a module-level probe function (``media.probe.probe_file`` by default,
``media.analyze.analyze_file`` for scans) in worker processes it kills and replaces when
one hangs or dies.

Workers are started in safe-path mode (``media.child_python``): they import this package,
never a ``media.py`` from the server's working folder. Starting one talks to multiprocessing's
fork server and waits for it, so submitting runs in a thread, bounded by the probe's timeout: a
fork server that died or hangs fails the probe with ``ProbeError``, it never stalls the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import signal
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

from media.child_python import safe_path_environment
from media.probe import ProbeError, ProbeResult, probe_file

__all__ = ["ProbePool"]

T = TypeVar("T")

# Imported once by the forkserver: the probe targets' modules, and PyAV through them.
PRELOAD_MODULES = ["media.probe", "media.analyze"]
# How long closing waits for idle workers to exit before killing them.
CLOSE_GRACE_SECONDS = 2.0


class _Executor:
    """One generation of worker processes; replaced whole when a worker hangs or dies."""

    def __init__(self, workers: int, context: multiprocessing.context.BaseContext) -> None:
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        self.killed_for_timeout = False
        self.starting = 0  # submits in progress: each may be starting a worker

    def submit(self, target: Callable[[str], Any], path: str) -> Future[Any]:
        """Blocking (it may start a worker, and the fork server): call it in a thread."""
        with safe_path_environment():
            return self.pool.submit(target, path)

    def started(self, submitting: asyncio.Future[Future[Any]]) -> None:
        self.starting -= 1
        if not submitting.cancelled():
            submitting.exception()  # retrieved here when the probe gave up waiting for it

    def kill(self) -> None:
        """Stop every worker now; their calls fail with BrokenProcessPool.

        ProcessPoolExecutor has no public way to stop a running call before Python 3.14
        (``kill_workers``), so this reaches for its process table.
        """
        kill_workers = getattr(self.pool, "kill_workers", None)  # Python 3.14+
        if kill_workers is not None:
            kill_workers()
            return
        processes: dict[int, Any] = getattr(self.pool, "_processes", None) or {}
        for process in list(processes.values()):
            if process.is_alive():
                process.kill()
        self.pool.shutdown(wait=False)


def _multiprocessing_context() -> multiprocessing.context.BaseContext:
    """Workers start clean (no inherited event loop, sockets or threads).

    With forkserver, the server process imports the probe modules (and PyAV) once, so
    each replacement worker starts in milliseconds instead of re-importing FFmpeg.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD_MODULES)
    return context


def _kill_forkserver() -> None:
    """A fork server that does not answer is killed, so the next start begins a fresh one
    (and a thread waiting on it sees end-of-file). multiprocessing keeps its pid privately."""
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)
    if isinstance(pid, int):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


class ProbePool(Generic[T]):
    """Probe files in worker processes (forkserver/spawn) with a hard per-file timeout.

    A probe that exceeds ``timeout_s`` has its worker killed and the pool replaced; other
    probes that were running in that pool are run again on the new one. When a worker
    dies on its own (a crash in FFmpeg), every probe it took down is re-run alone in a
    one-worker quarantine pool, so only the file that really crashes it fails.
    ``target`` is a module-level function (it must be importable in the worker) whose
    result ``probe`` returns; it defaults to ``probe_file``.
    """

    @overload
    def __init__(self: ProbePool[ProbeResult], workers: int, timeout_s: float = ...) -> None: ...

    @overload
    def __init__(
        self, workers: int, timeout_s: float = ..., *, target: Callable[[str], T]
    ) -> None: ...

    def __init__(
        self,
        workers: int,
        timeout_s: float = 30.0,
        *,
        target: Callable[[str], Any] = probe_file,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._workers = workers
        self._timeout_s = timeout_s
        self._target: Callable[[str], T] = target
        self._context = _multiprocessing_context()
        self._main: _Executor | None = None
        self._quarantine: _Executor | None = None
        self._slots = asyncio.Semaphore(workers)
        self._quarantine_lock = asyncio.Lock()
        self._in_flight = 0
        self._closed = False
        self._killing: set[asyncio.Future[None]] = set()

    async def __aenter__(self) -> ProbePool[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def probe(self, path: str) -> T:
        """Probe ``path`` in a worker; raise ``ProbeError`` (also on timeout or crash)."""
        if self._closed:
            raise ProbeError("probe pool is closed")
        self._in_flight += 1
        try:
            return await self._probe(path)
        finally:
            self._in_flight -= 1

    async def _probe(self, path: str) -> T:
        async with self._slots:
            for _ in range(10):  # bounds re-runs caused by other files' timeouts
                if self._closed:
                    raise ProbeError("probe pool is closed")
                if self._main is None:
                    self._main = _Executor(self._workers, self._context)
                executor = self._main
                try:
                    return await self._run(executor, path)
                except BrokenExecutor:
                    if not executor.killed_for_timeout:
                        self._discard(executor)
                        break  # a crash: find out alone whether this file causes it
            else:
                raise ProbeError("probe pool kept restarting")
        async with self._quarantine_lock:
            if self._closed:
                raise ProbeError("probe pool is closed")
            if self._quarantine is None:
                self._quarantine = _Executor(1, self._context)
            executor = self._quarantine
            try:
                return await self._run(executor, path)
            except BrokenExecutor:
                self._discard(executor)
                raise ProbeError("probe worker crashed") from None

    async def _run(self, executor: _Executor, path: str) -> T:
        executor.starting += 1  # until the thread returns, even when this probe is cancelled
        submitting = asyncio.ensure_future(asyncio.to_thread(executor.submit, self._target, path))
        submitting.add_done_callback(executor.started)
        try:
            submitted = await asyncio.wait_for(asyncio.shield(submitting), self._timeout_s)
        except TimeoutError:
            # The fork server did not hand out a worker: kill it (the blocked thread then
            # returns), drop this generation of workers, and fail only this probe.
            _kill_forkserver()
            executor.killed_for_timeout = True
            self._discard(executor)
            raise ProbeError(f"no probe worker started within {self._timeout_s:g} s") from None
        except BrokenExecutor:
            raise
        except Exception as error:  # the worker or the fork server died while starting
            raise BrokenExecutor(f"{type(error).__name__}: {error}") from None
        try:
            return await asyncio.wait_for(asyncio.wrap_future(submitted), self._timeout_s)
        except TimeoutError:
            executor.killed_for_timeout = True
            self._discard(executor)
            raise ProbeError(f"timed out after {self._timeout_s:g} s") from None
        except (ProbeError, BrokenExecutor):
            raise
        except Exception as error:  # the target failed in an unexpected way
            raise ProbeError(f"probe failed: {type(error).__name__}: {error}") from None

    def _discard(self, executor: _Executor) -> None:
        if self._main is executor:
            self._main = None
        if self._quarantine is executor:
            self._quarantine = None
        if executor.starting:
            # A thread still submitting holds the executor's lock: killing it here would
            # block the event loop on that lock, so it is done in a thread.
            self._killing.add(asyncio.ensure_future(asyncio.to_thread(executor.kill)))
            self._killing = {task for task in self._killing if not task.done()}
        else:
            executor.kill()

    async def close(self) -> None:
        """Stop the workers: gracefully when idle, killing them when probes still run or
        when they do not exit within ``CLOSE_GRACE_SECONDS`` (a stuck or stopped worker)."""
        self._closed = True
        executors = [e for e in (self._main, self._quarantine) if e is not None]
        self._main = self._quarantine = None
        for executor in executors:
            if self._in_flight:
                executor.kill()
            stopping = asyncio.ensure_future(asyncio.to_thread(executor.pool.shutdown, wait=True))
            try:
                await asyncio.wait_for(asyncio.shield(stopping), CLOSE_GRACE_SECONDS)
            except TimeoutError:
                if executor.starting:  # a start stuck on the fork server holds the pool's lock
                    _kill_forkserver()
                await asyncio.to_thread(executor.kill)
                await stopping
        await asyncio.gather(*self._killing, return_exceptions=True)
