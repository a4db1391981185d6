"""The job queue: procrastinate on Revenge's own PostgreSQL.

Long work (scans, transcodes, metadata, …) becomes a job. Domains declare their tasks on
procrastinate ``Blueprint``s in their resolvers; the gateway hands those blueprints to
``open_job_queue`` under a namespace (``catalog`` → task ``catalog:scan_library``), so this
module knows no domain. A task declared with ``pass_context=True`` receives a ``JobContext``
whose ``additional_context`` holds what the process running the worker passed to
``run_worker`` (the pool, the bus, services).

Schema: procrastinate's tables and functions (``procrastinate_*``, in the current schema) are
created at start-up from procrastinate's schema manager, in one transaction under an advisory
lock, and skipped when ``procrastinate_jobs`` exists. Upgrading procrastinate across a release
that ships SQL migrations (``procrastinate/sql/migrations``) needs those applied first; this
module does not apply them (yet).

Stalled jobs: procrastinate workers renew a heartbeat (``procrastinate_workers``). Each of our
workers also holds a session advisory lock keyed by its worker id on a connection of its own,
which PostgreSQL drops the moment the process dies. Every worker, when it starts and then every
few seconds, hands back (``retry``) the running jobs whose worker is gone: no lock held, no
heartbeat for ``STALLED_AFTER_S``, or no worker row at all. So a worker killed with SIGKILL loses
its jobs to another worker within seconds, and one cut off by the network within half a minute.

Stopping: a worker cancelled (SIGINT/SIGTERM in ``revenge worker``, the lifespan's end in
``revenge serve``) gives its running jobs ``graceful_timeout_s`` to finish, then aborts them;
a task whose retry strategy is ``HAND_BACK_ON_SHUTDOWN`` goes back to the queue for the next
worker. A job a user aborts (``job_manager.cancel_job_by_id_async(id, abort=True)``) is
cancelled and ends ``aborted``, never retried.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import asyncpg
import psycopg
import structlog
from procrastinate import (
    App,
    BaseRetryStrategy,
    Blueprint,
    JobContext,
    PsycopgConnector,
    RetryDecision,
)
from procrastinate import exceptions as procrastinate_errors
from procrastinate import manager as procrastinate_manager
from procrastinate.app import WorkerOptions
from procrastinate.job_context import AbortReason
from procrastinate.jobs import Job
from procrastinate.schema import SchemaManager

from infra.background import cancel_and_wait

__all__ = [
    "HAND_BACK_ON_SHUTDOWN",
    "STALLED_AFTER_S",
    "HandBackOnShutdown",
    "JobQueue",
    "apply_schema",
    "defer_in_transaction",
    "open_job_queue",
    "stop_worker",
]

log = structlog.get_logger("revenge.jobs")

# Advisory lock keys: the schema and stalled-check locks (one bigint each) and the workers'
# liveness locks (two int4: this class and the worker id), apart from the migration runner's.
SCHEMA_LOCK_KEY = 0x5256_4A4F_4253  # "RVJOBS"
STALLED_LOCK_KEY = SCHEMA_LOCK_KEY + 1
LIVENESS_LOCK_CLASS = 0x5256_574B  # "RVWK"
STALLED_AFTER_S = 30.0
STALLED_CHECK_INTERVAL_S = 5.0
HEARTBEAT_INTERVAL_S = 10.0
RESTART_DELAY_S = 1.0
ABORT_POLL_S = 0.05  # how often ``JobQueue.abort`` looks whether the aborted jobs ended

_STALLED_JOBS = """
SELECT job.id
  FROM procrastinate_jobs job
  LEFT JOIN procrastinate_workers worker ON worker.id = job.worker_id
 WHERE job.status = 'doing'
   AND (worker.id IS NULL
        OR worker.last_heartbeat < now() - make_interval(secs => %(stalled_after)s)
        OR NOT EXISTS (
            SELECT 1 FROM pg_locks l
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.classid = %(lock_class)s::bigint::oid
               AND l.objid = (worker.id %% 2147483648)::oid))
 ORDER BY job.id
"""


class HandBackOnShutdown(BaseRetryStrategy):
    """Retry at once a job its worker aborted because it was stopping, and nothing else (the
    worker only asks about aborted jobs when the abort was a shutdown)."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, asyncio.CancelledError | procrastinate_errors.JobAborted):
            return RetryDecision(retry_in={"seconds": 0})
        return None


HAND_BACK_ON_SHUTDOWN = HandBackOnShutdown()


async def _user_aborts_are_final(
    call_next: Callable[[], Awaitable[Any]], context: JobContext, worker: Any
) -> Any:
    """An async job cancelled because a user aborted it ends ``aborted``: procrastinate would
    otherwise ask the retry strategy about the ``CancelledError`` (and a retry of an aborted
    job marks it ``failed``)."""
    try:
        return await call_next()
    except asyncio.CancelledError:
        if context.abort_reason() == AbortReason.USER_REQUEST:
            raise procrastinate_errors.JobAborted from None
        raise


async def apply_schema(conninfo: str) -> bool:
    """Create procrastinate's schema unless ``procrastinate_jobs`` exists; True when it did.
    Processes starting together serialize on an advisory lock, so one creates it."""
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
            cursor = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            row = await cursor.fetchone()
            if row is not None and row[0]:
                return False
            await conn.execute(SchemaManager.get_schema())
    log.info("job queue schema created")
    return True


def _liveness_key(worker_id: int) -> tuple[int, int]:
    return LIVENESS_LOCK_CLASS, worker_id % 2_147_483_648


class _JobManager(procrastinate_manager.JobManager):
    """procrastinate's job manager, plus a liveness lock for each worker it registers: held on
    a connection of the worker's own for as long as the worker lives."""

    def __init__(self, connector: PsycopgConnector, conninfo: str) -> None:
        super().__init__(connector)
        self._conninfo = conninfo
        self._liveness: dict[int, psycopg.AsyncConnection[Any]] = {}

    async def _lock(self, worker_id: int) -> None:
        conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        try:
            cursor = await conn.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", _liveness_key(worker_id)
            )
            row = await cursor.fetchone()
            if row is None or not row[0]:
                raise RuntimeError(f"the liveness lock of worker {worker_id} is taken")
        except BaseException:
            await conn.close()
            raise
        self._liveness[worker_id] = conn

    async def register_worker(self) -> int:
        worker_id = await super().register_worker()
        await self._lock(worker_id)
        return worker_id

    async def finish_job(self, job: Job, status: Any, delete_job: bool) -> None:
        """Finish the job; one that held a lock wakes the workers of its queue, so the next job
        of that lock starts now. (procrastinate wakes workers on inserts only: the next job of
        a lock, blocked while this one ran, would otherwise wait for the next poll.)"""
        await super().finish_job(job, status, delete_job)
        if job.lock is not None:
            payload = json.dumps({"type": "job_inserted", "job_id": job.id})
            await self.connector.execute_query_async(
                "SELECT pg_notify(%(channel)s, %(payload)s), "
                "pg_notify('procrastinate_any_queue_v1', %(payload)s)",
                channel=f"procrastinate_queue_v1#{job.queue}",
                payload=payload,
            )

    async def update_heartbeat(self, worker_id: int) -> None:
        await super().update_heartbeat(worker_id)
        conn = self._liveness.get(worker_id)
        try:
            if conn is None or conn.closed:
                raise psycopg.OperationalError("liveness connection closed")
            await conn.execute("SELECT 1")
        except psycopg.Error as error:
            # Other workers may already count this one as dead; take the lock back or stop
            # (the heartbeat task failing stops the worker, which hands its jobs back).
            log.warning("worker liveness connection lost", worker=worker_id, error=str(error))
            self._liveness.pop(worker_id, None)
            if conn is not None:
                await conn.close()
            await self._lock(worker_id)

    async def unregister_worker(self, worker_id: int) -> None:
        try:
            await super().unregister_worker(worker_id)
        finally:
            conn = self._liveness.pop(worker_id, None)
            if conn is not None:
                await conn.close()

    async def close(self) -> None:
        for conn in self._liveness.values():
            await conn.close()
        self._liveness.clear()


class JobQueue:
    """An open procrastinate app: defer jobs, run workers, hand back stalled jobs."""

    def __init__(self, app: App, connector: PsycopgConnector) -> None:
        self.app = app
        self._connector = connector

    @property
    def task_names(self) -> list[str]:
        """The tasks the blueprints brought (procrastinate's built-in ones left out)."""
        builtin = ("builtin:", "procrastinate.")
        return sorted(name for name in self.app.tasks if not name.startswith(builtin))

    async def defer(
        self,
        task: str,
        *,
        queue: str | None = None,
        lock: str | None = None,
        queueing_lock: str | None = None,
        priority: int | None = None,
        **args: Any,
    ) -> int | None:
        """Queue a job of the named task (``namespace:name``); its id, or None when a job with
        the same ``queueing_lock`` is already waiting. ``lock``: jobs sharing it run one at a
        time, in order."""
        deferrer = self.app.configure_task(
            task,
            allow_unknown=False,
            queue=queue,
            lock=lock,
            queueing_lock=queueing_lock,
            priority=priority,
        )
        try:
            job_id: int = await deferrer.defer_async(**args)
        except procrastinate_errors.AlreadyEnqueued:
            return None
        return job_id

    async def has_unfinished(self, lock: str) -> bool:
        """Whether a job holding ``lock`` waits or runs."""
        manager = self.app.job_manager
        for status in ("todo", "doing"):
            if list(await manager.list_jobs_async(lock=lock, status=status)):
                return True
        return False

    async def abort(self, lock: str, *, timeout_s: float = 30.0) -> bool:
        """Cancel the waiting jobs holding ``lock``, abort the running ones, and wait until
        none waits or runs; False when one still did after ``timeout_s``. A running job ends
        when its worker cancels it (notified at once, or on its next look for aborts); one
        whose worker died is handed back first and then cancelled."""
        manager = self.app.job_manager
        asked: set[tuple[int, str]] = set()
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    pending = [
                        (job.id, status)
                        for status in ("todo", "doing")
                        for job in await manager.list_jobs_async(lock=lock, status=status)
                        if job.id is not None
                    ]
                    if not pending:
                        return True
                    for job_id, status in pending:
                        if (job_id, status) not in asked:
                            await manager.cancel_job_by_id_async(job_id, abort=True)
                            asked.add((job_id, status))
                    await asyncio.sleep(ABORT_POLL_S)
        except TimeoutError:
            return False

    async def retry_stalled_jobs(self) -> list[int]:
        """Send back to the queue the running jobs whose worker is gone; their ids. Workers
        checking at the same time take turns (one skips), so a job is handed back once."""
        manager = self.app.job_manager
        handed_back: list[int] = []
        async with self._connector.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (STALLED_LOCK_KEY,))
            row = await cursor.fetchone()
            if row is None or not row[0]:
                return []
            await manager.prune_stalled_workers(STALLED_AFTER_S)
            cursor = await conn.execute(
                _STALLED_JOBS, {"stalled_after": STALLED_AFTER_S, "lock_class": LIVENESS_LOCK_CLASS}
            )
            job_ids = [int(found[0]) for found in await cursor.fetchall()]
            for job_id in job_ids:
                try:
                    await manager.retry_job_by_id_async(
                        job_id, retry_at=datetime.datetime.now(datetime.UTC)
                    )
                except procrastinate_errors.ConnectorException as error:
                    # It ended meanwhile (a silent worker that was alive after all).
                    log.info("stalled job not handed back", job=job_id, error=str(error))
                else:
                    handed_back.append(job_id)
        if handed_back:
            log.warning("stalled jobs handed back", jobs=handed_back)
        return handed_back

    async def _check_stalled_forever(self, interval_s: float) -> None:
        while True:
            try:
                await self.retry_stalled_jobs()
            except (OSError, psycopg.Error, procrastinate_errors.ProcrastinateException) as error:
                log.warning("could not check for stalled jobs", error=str(error))
            await asyncio.sleep(interval_s)

    async def run_worker(
        self,
        *,
        concurrency: int,
        queues: Iterable[str] | None = None,
        additional_context: Mapping[str, Any] | None = None,
        name: str = "worker",
        graceful_timeout_s: float = 0.0,
        stalled_check_interval_s: float = STALLED_CHECK_INTERVAL_S,
        polling_interval_s: float | None = None,
    ) -> None:
        """Run a worker until cancelled: at most ``concurrency`` jobs at once from ``queues``
        (None: all). Cancelled, it waits ``graceful_timeout_s`` for running jobs, then aborts
        them (``HAND_BACK_ON_SHUTDOWN`` tasks return to the queue) and returns by raising
        ``CancelledError``. A worker that stops on its own (database gone) is started again.
        ``polling_interval_s``: how often it looks for jobs whose time came (a new job wakes it
        at once; a retry scheduled for later waits for the next look; None: procrastinate's
        5 s)."""
        options: WorkerOptions = {
            "concurrency": concurrency,
            "name": name,
            "additional_context": dict(additional_context or {}),
            "install_signal_handlers": False,
            "shutdown_graceful_timeout": graceful_timeout_s,
            "delete_jobs": "successful",
            "update_heartbeat_interval": HEARTBEAT_INTERVAL_S,
            "stalled_worker_timeout": STALLED_AFTER_S,
            "worker_middleware": [_user_aborts_are_final],
        }
        if queues is not None:
            options["queues"] = list(queues)
        if polling_interval_s is not None:
            options["fetch_job_polling_interval"] = polling_interval_s
        checker = asyncio.create_task(
            self._check_stalled_forever(stalled_check_interval_s), name="stalled job check"
        )
        try:
            while True:
                await self.app.run_worker_async(**options)
                log.warning("worker stopped on its own; starting again", worker=name)
                await asyncio.sleep(RESTART_DELAY_S)
        finally:
            checker.cancel()
            await asyncio.gather(checker, return_exceptions=True)

    def start_worker(self, **options: Any) -> asyncio.Task[None]:
        """``run_worker`` as a background task; stop it with ``stop_worker``."""
        return asyncio.create_task(self.run_worker(**options), name="job worker")

    async def close(self) -> None:
        manager = self.app.job_manager
        if isinstance(manager, _JobManager):
            await manager.close()
        await self.app.close_async()


_DEFER_JOBS = """
SELECT procrastinate_defer_jobs_v1(array_agg(
           ROW($1::text, $2::text, 0, job.lock, NULL::text, job.args, NULL::timestamptz)
               ::procrastinate_job_to_defer_v1
           ORDER BY job.n))
  FROM unnest($3::text[], $4::jsonb[]) WITH ORDINALITY AS job(lock, args, n)
 WHERE NOT ($5 AND EXISTS (SELECT 1 FROM procrastinate_jobs AS waiting
                            WHERE waiting.lock = job.lock AND waiting.status = 'todo'))
"""


async def defer_in_transaction(
    conn: asyncpg.Connection,
    task: str,
    queue: str,
    jobs: list[tuple[str | None, dict[str, Any]]],
    *,
    unless_waiting: bool = False,
) -> list[int]:
    """Queue jobs of ``task`` (``namespace:name``) on the caller's asyncpg connection, so they
    exist exactly when the caller's transaction commits: each job is ``(lock, arguments)``.
    ``unless_waiting``: leave out a job whose lock has a job waiting to run already (one that
    runs now does not count). Their ids, in order (a worker hears of them through
    procrastinate's insert trigger)."""
    if not jobs:
        return []
    ids = await conn.fetchval(
        _DEFER_JOBS, queue, task, [lock for lock, _ in jobs], [args for _, args in jobs],
        unless_waiting,
    )  # fmt: skip
    return [int(job_id) for job_id in ids or ()]


async def stop_worker(task: asyncio.Task[None]) -> None:
    """Stop a worker started with ``start_worker`` (running jobs finish or are handed back)."""
    await cancel_and_wait(task)


async def open_job_queue(
    conninfo: str,
    blueprints: Mapping[str, Blueprint],
    *,
    max_connections: int = 4,
) -> JobQueue:
    """Open the job queue on ``conninfo`` (a libpq URI, the embedded server's socket URI
    included) with the tasks of ``blueprints`` by namespace; creates the schema if needed."""
    await apply_schema(conninfo)
    connector = PsycopgConnector(conninfo=conninfo, min_size=1, max_size=max(2, max_connections))
    app = App(connector=connector)
    app.job_manager = _JobManager(connector, conninfo)
    for namespace, blueprint in blueprints.items():
        app.add_tasks_from(blueprint, namespace=namespace)
    await app.open_async()
    return JobQueue(app, connector)
