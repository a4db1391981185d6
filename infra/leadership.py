"""Exactly one of `revenge serve`'s processes runs the in-process job worker.

The job queue itself is safe with any number of workers (procrastinate claims each job in one
transaction), but the worker's *limits* are per worker: ``worker.concurrency`` scans,
``transcode.max_per_worker`` encoders, ``webhooks.concurrency`` deliveries. Run in every server
process they would multiply by the number of processes, and each would probe encoders and keep
scratch space. So the processes elect one: whoever holds a PostgreSQL session advisory lock
(``LOCK_KEY``) on a connection of its own runs the workers, and serves its transcodes' segments
to the other processes on a private loopback port.

PostgreSQL releases the lock when that connection ends, so a process that dies hands the jobs
over by itself: another takes the lock within ``retry_seconds`` and requeues what the dead one
was running. When the leader loses its connection (PostgreSQL restarted) it stops its workers
(running jobs go back to the queue) before anyone else can take the lock again, then competes
once more; two leaders at once would only run jobs side by side, never the same job twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

__all__ = ["LOCK_KEY", "JobLeadership"]

log = structlog.get_logger("revenge.jobs")

# "revjobs1" as a signed 64-bit key: the advisory lock no other code of ours takes.
LOCK_KEY = int.from_bytes(b"revjobs1", "big")


class JobLeadership:
    """Competes for ``LOCK_KEY``; calls ``start`` once it holds it and ``stop`` when it no longer
    does (lost connection, or ``close``)."""

    def __init__(
        self,
        url: str,
        start: Callable[[], Awaitable[None]],
        stop: Callable[[], Awaitable[None]],
        *,
        retry_seconds: float = 2.0,
        check_seconds: float = 5.0,
    ) -> None:
        self.url = url
        self._start = start
        self._stop = stop
        self.retry_seconds = retry_seconds
        self.check_seconds = check_seconds
        self.leading = False
        self._task: asyncio.Task[None] | None = None

    def begin(self) -> None:
        self._task = asyncio.create_task(self._run(), name="job leadership")

    async def _run(self) -> None:
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self.url, timeout=10)
                await self._take_lock(connection)
                self.leading = True
                log.info("this process runs the in-process jobs")
                await self._start()
                while True:
                    await asyncio.sleep(self.check_seconds)
                    await asyncio.wait_for(connection.fetchval("SELECT 1"), timeout=5)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # connection refused, reset, timed out
                log.warning("job leadership interrupted", error=repr(error))
            finally:
                if self.leading:
                    self.leading = False
                    try:
                        await self._stop()
                    except Exception:
                        log.exception("stopping the in-process jobs failed")
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), timeout=5)
            await asyncio.sleep(self.retry_seconds)

    async def _take_lock(self, connection: asyncpg.Connection) -> None:
        """Returns once this connection holds the lock (asked again every ``retry_seconds``)."""
        while True:
            if await connection.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
                return
            await asyncio.sleep(self.retry_seconds)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
