"""The scan service: queues scans as jobs and holds what a worker needs to run them.

``start`` writes the scan's ``library_scans`` row (its visible status) and defers a
``catalog:scan_library`` job (see ``scan_jobs``). Any worker on the same PostgreSQL runs it:
``revenge serve``'s in-process worker by default, ``revenge worker`` processes, or this
service's own scans-only worker (``start_worker``, for ``revenge scan``). The scanner and its
probe processes live here, for the jobs this process runs.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import structlog

from infra.authz.rego_engine import PolicyEngine, open_policy_engine
from infra.bus import EventBus
from infra.errors import NotFound
from infra.jobs import JobQueue, stop_worker
from infra.settings import Settings
from media.analyze import Analysis, analyze_file
from media.probe_pool import ProbePool
from resolvers.catalog.scan_jobs import SCAN_QUEUE, SCAN_TASK, scan_lock
from resolvers.catalog.scan_queue import enqueue_scan
from resolvers.catalog.scanning import FINISHED, LibraryScanner

__all__ = ["ScanService"]

log = structlog.get_logger("revenge.scan")


class ScanService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: EventBus,
        jobs: JobQueue,
        *,
        probe_workers: int,
        probe_timeout_s: float,
        max_concurrent_scans: int = 2,
        policies: PolicyEngine | None = None,
    ) -> None:
        self._pool = pool
        self._bus = bus
        self._jobs = jobs
        self._probe_workers = probe_workers
        self._probe_timeout_s = probe_timeout_s
        self._probe_pool: ProbePool[Analysis] | None = None
        self._slots = max_concurrent_scans
        self._worker: asyncio.Task[None] | None = None
        self._policies = policies
        self.scanner = LibraryScanner(pool, bus, self._probes, policies)

    @classmethod
    def from_settings(
        cls, pool: asyncpg.Pool, bus: EventBus, jobs: JobQueue, settings: Settings
    ) -> ScanService:
        return cls(
            pool,
            bus,
            jobs,
            probe_workers=settings.effective_probe_workers,
            probe_timeout_s=settings.probe_timeout_seconds,
            max_concurrent_scans=settings.worker_concurrency,
            policies=open_policy_engine(settings.opa_url, settings.policies_dir),
        )

    def job_context(self) -> dict[str, Any]:
        """What scan jobs need from a worker's ``additional_context``."""
        return {"pool": self._pool, "bus": self._bus, "scans": self}

    def _probes(self) -> ProbePool[Analysis]:
        if self._probe_pool is None:
            self._probe_pool = ProbePool(
                self._probe_workers, self._probe_timeout_s, target=analyze_file
            )
        return self._probe_pool

    # -- queueing ------------------------------------------------------------------------

    async def start(self, library_id: uuid.UUID, *, full: bool = False) -> uuid.UUID:
        """Queue a scan of the library (or return the active one); a worker runs it."""
        async with self._pool.acquire() as conn:
            queued = await enqueue_scan(conn, library_id, full=full)
        if queued is None:
            raise NotFound("library not found")
        scan_id, created = queued
        lock = scan_lock(library_id)
        # An active scan normally has its job; one that lost it (a failed defer, a scan queued
        # before scans were jobs) gets one again. No queueing lock: a job handed back to the
        # queue must never collide with a waiting twin; a rare twin (two starts racing) waits
        # on the library's lock and finds its scan finished.
        if created or not await self._jobs.has_unfinished(lock):
            await self._jobs.defer(SCAN_TASK, queue=SCAN_QUEUE, lock=lock, scan_id=str(scan_id))
        return scan_id

    async def requeue_orphans(self) -> list[uuid.UUID]:
        """Give a job to each active scan that has none (queued before scans were jobs, or
        its defer failed); the scans that got one. Run when a worker starts."""
        rows = await self._pool.fetch(
            "SELECT id, library_id FROM library_scans WHERE status IN ('queued', 'running') "
            "ORDER BY created_at"
        )
        requeued: list[uuid.UUID] = []
        for row in rows:
            lock = scan_lock(row["library_id"])
            if not await self._jobs.has_unfinished(lock):
                await self._jobs.defer(
                    SCAN_TASK, queue=SCAN_QUEUE, lock=lock, scan_id=str(row["id"])
                )
                requeued.append(row["id"])
        if requeued:
            log.info("scans without a job queued again", scans=[str(s) for s in requeued])
        return requeued

    async def stop(self, library_id: uuid.UUID, *, timeout_s: float = 30.0) -> bool:
        """Stop the library's scans, whichever worker runs them: the queued job is cancelled,
        the running one aborted (its scan ends ``interrupted``); returns once none is left, or
        False after ``timeout_s``. Run before deleting the library, so no scan writes rows of a
        library that is gone."""
        return await self._jobs.abort(scan_lock(library_id), timeout_s=timeout_s)

    async def wait(self, scan_id: uuid.UUID) -> None:
        """Until the scan has finished, whichever worker runs it."""
        while True:
            status = await self._pool.fetchval(
                "SELECT status FROM library_scans WHERE id = $1", scan_id
            )
            if status is None or status in FINISHED:
                return
            await asyncio.sleep(0.05)

    # -- working ---------------------------------------------------------------------------

    async def start_worker(self) -> None:
        """Run scan jobs in this process from now on (a worker on the scans queue only)."""
        if self._worker is None:
            self._worker = self._jobs.start_worker(
                concurrency=self._slots,
                queues=[SCAN_QUEUE],
                additional_context=self.job_context(),
                name="scans",
            )

    async def close(self) -> None:
        """Stop this service's worker (running scans go back to the queue for the next worker
        to resume) and the probe processes."""
        if self._worker is not None:
            await stop_worker(self._worker)
            self._worker = None
        if self._probe_pool is not None:
            await self._probe_pool.close()
            self._probe_pool = None
        if self._policies is not None:
            await self._policies.aclose()
