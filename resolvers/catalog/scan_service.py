"""The scan service: queues scans and, where this process is a worker, runs them.

``revenge serve`` runs a worker in-process by default; ``revenge worker`` processes on the same
PostgreSQL take scans too. Scans wait in ``library_scans`` (see ``scan_queue``); a worker hears
about new ones through ``LISTEN`` and also polls, so a missed notification only costs time.
A worker that stops cleanly hands its running scans back to the queue, where the next worker
resumes them; one that dies stops renewing its heartbeat and its scans are taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg
import structlog

from infra.bus import EventBus
from infra.errors import NotFound
from infra.settings import Settings
from media.analyze import Analysis, analyze_file
from media.probe_pool import ProbePool
from resolvers.catalog.scan_queue import (
    CHANNEL,
    claim_scan,
    claimable_scans,
    enqueue_scan,
    heartbeat,
    new_worker_id,
    requeue_scans,
)
from resolvers.catalog.scanning import FINISHED, LibraryScanner, scan_event

__all__ = ["ScanService"]

log = structlog.get_logger("revenge.scan")

POLL_INTERVAL_S = 5.0
HEARTBEAT_INTERVAL_S = 10.0


class ScanService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: EventBus,
        *,
        probe_workers: int,
        probe_timeout_s: float,
        max_concurrent_scans: int = 2,
    ) -> None:
        self._pool = pool
        self._bus = bus
        self._probe_workers = probe_workers
        self._probe_timeout_s = probe_timeout_s
        self._probe_pool: ProbePool[Analysis] | None = None
        self._scanner = LibraryScanner(pool, bus, self._probes)
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._slots = max_concurrent_scans
        self._worker_id = new_worker_id()
        self._working = False
        self._closing = False
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None

    @classmethod
    def from_settings(cls, pool: asyncpg.Pool, bus: EventBus, settings: Settings) -> ScanService:
        return cls(
            pool,
            bus,
            probe_workers=settings.effective_probe_workers,
            probe_timeout_s=settings.probe_timeout_seconds,
        )

    @property
    def worker_id(self) -> str:
        return self._worker_id

    def _probes(self) -> ProbePool[Analysis]:
        if self._probe_pool is None:
            self._probe_pool = ProbePool(
                self._probe_workers, self._probe_timeout_s, target=analyze_file
            )
        return self._probe_pool

    # -- queueing ------------------------------------------------------------------------

    async def start(self, library_id: uuid.UUID, *, full: bool = False) -> uuid.UUID:
        """Queue a scan of the library (or return the active one); a worker picks it up."""
        async with self._pool.acquire() as conn:
            queued = await enqueue_scan(conn, library_id, full=full)
        if queued is None:
            raise NotFound("library not found")
        scan_id, _ = queued
        if self._working:
            await self._try_claim(scan_id)
        return scan_id

    async def wait(self, scan_id: uuid.UUID) -> None:
        """Until the scan has finished, whichever worker runs it."""
        while True:
            task = self._tasks.get(scan_id)
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(task)
            status = await self._pool.fetchval(
                "SELECT status FROM library_scans WHERE id = $1", scan_id
            )
            if status is None or status in FINISHED:
                return
            await asyncio.sleep(0.05)

    # -- working ---------------------------------------------------------------------------

    async def start_worker(self) -> None:
        """Take queued (and orphaned) scans from now on, in the background."""
        if self._working:
            return
        self._working = True
        self._listener = await self._pool.acquire()
        await self._listener.add_listener(CHANNEL, self._notified)
        self._loop_task = asyncio.create_task(self._work(), name="scan worker")

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _work(self) -> None:
        last_beat = 0.0
        loop = asyncio.get_running_loop()
        while not self._closing:
            try:
                if len(self._tasks) < self._slots:
                    async with self._pool.acquire() as conn:
                        candidates = await claimable_scans(conn)
                    for scan_id in candidates:
                        if len(self._tasks) >= self._slots:
                            break
                        await self._try_claim(scan_id)
                if self._tasks and loop.time() - last_beat > HEARTBEAT_INTERVAL_S:
                    async with self._pool.acquire() as conn:
                        await heartbeat(conn, self._worker_id, list(self._tasks))
                    last_beat = loop.time()
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("scan worker could not reach the database", error=str(error))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL_S)

    async def _try_claim(self, scan_id: uuid.UUID) -> bool:
        if self._closing or scan_id in self._tasks or len(self._tasks) >= self._slots:
            return False
        async with self._pool.acquire() as conn:
            claim = await claim_scan(conn, scan_id, self._worker_id)
        if claim is None:
            return False
        task = asyncio.create_task(
            self._scanner.run(claim.scan_id, claim.library_id, claim.full),
            name=f"scan {claim.scan_id}",
        )
        self._tasks[claim.scan_id] = task

        def done(_: asyncio.Task[None]) -> None:
            self._tasks.pop(claim.scan_id, None)
            self._wake.set()

        task.add_done_callback(done)
        return True

    async def close(self) -> None:
        """Stop working: running scans go back to the queue for the next worker to resume."""
        self._closing = True
        self._wake.set()
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(CHANNEL, self._notified)
            await self._pool.release(self._listener)
            self._listener = None
        tasks = dict(self._tasks)
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        if tasks:
            async with self._pool.acquire() as conn:
                rows = await requeue_scans(conn, self._worker_id, list(tasks))
            for row in rows:
                await self._bus.publish(f"library_scan:{row['library_id']}", scan_event(row))
        if self._probe_pool is not None:
            await self._probe_pool.close()
            self._probe_pool = None
        self._working = False
