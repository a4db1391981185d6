"""Running probes in worker processes, with a hard per-file timeout.

A probe can block for a long time (network shares, pathological files) and must never
run on the event loop, and a crash in FFmpeg must not take the server down, so
``ProbePool`` runs a module-level probe function (``media.probe.probe_file`` by default,
``media.analyze.analyze_file`` for scans) in worker processes it kills and replaces when
one hangs or dies.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

from media.probe import ProbeError, ProbeResult, probe_file

__all__ = ["ProbePool"]

T = TypeVar("T")

# Imported once by the forkserver: the probe targets' modules, and PyAV through them.
PRELOAD_MODULES = ["media.probe", "media.analyze"]


class _Executor:
    """One generation of worker processes; replaced whole when a worker hangs or dies."""

    def __init__(self, workers: int, context: multiprocessing.context.BaseContext) -> None:
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        self.killed_for_timeout = False

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
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(executor.pool, self._target, path)
        except RuntimeError as error:  # the pool was shut down under us
            raise BrokenExecutor(str(error)) from None
        try:
            return await asyncio.wait_for(future, self._timeout_s)
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
        executor.kill()

    async def close(self) -> None:
        """Stop the workers: gracefully when idle, killing them when probes still run."""
        self._closed = True
        executors = [e for e in (self._main, self._quarantine) if e is not None]
        self._main = self._quarantine = None
        for executor in executors:
            if self._in_flight:
                executor.kill()
            await asyncio.to_thread(executor.pool.shutdown, wait=True)
