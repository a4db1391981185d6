"""The job queue against real PostgreSQL: defer, run, lock, hand back, take over, schema."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg
import pytest
from procrastinate import Blueprint, JobContext
from procrastinate.manager import JobManager

from infra.jobs import HAND_BACK_ON_SHUTDOWN, JobQueue, open_job_queue, stop_worker


def test_blueprint() -> Blueprint:
    tasks = Blueprint()

    @tasks.task(name="record", queue="tests", pass_context=True)
    async def record(context: JobContext, word: str) -> None:
        seen: list[tuple[str, str]] = context.additional_context["seen"]
        seen.append((word, context.additional_context["flavour"]))

    @tasks.task(name="overlap", queue="tests", pass_context=True)
    async def overlap(context: JobContext, name: str) -> None:
        log: list[str] = context.additional_context["seen"]
        log.append(f"start {name}")
        await asyncio.sleep(0.2)
        log.append(f"end {name}")

    @tasks.task(name="forever", queue="tests", pass_context=True, retry=HAND_BACK_ON_SHUTDOWN)
    async def forever(context: JobContext) -> None:
        context.additional_context["started"].set()
        await asyncio.Event().wait()

    return tasks


test_blueprint.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
async def queue(pool: asyncpg.Pool, database_url: str) -> AsyncIterator[JobQueue]:
    opened = await open_job_queue(database_url, {"tests": test_blueprint()})
    try:
        yield opened
    finally:
        await opened.close()


async def until(pool: asyncpg.Pool, sql: str, expected: Any) -> None:
    async with asyncio.timeout(20):
        while await pool.fetchval(sql) != expected:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_a_deferred_job_runs_on_an_in_process_worker_with_its_context(
    pool: asyncpg.Pool, queue: JobQueue
) -> None:
    seen: list[tuple[str, str]] = []
    job_id = await queue.defer("tests:record", word="hello")
    worker = queue.start_worker(concurrency=2, additional_context={"seen": seen, "flavour": "x"})
    try:
        async with asyncio.timeout(20):
            while not seen:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await until(pool, "SELECT count(*) FROM procrastinate_jobs", 0)  # succeeded: deleted
    finally:
        await stop_worker(worker)
    assert job_id is not None
    assert seen == [("hello", "x")]
    assert queue.task_names == ["tests:forever", "tests:overlap", "tests:record"]


async def test_a_queueing_lock_keeps_one_job_waiting(queue: JobQueue) -> None:
    first = await queue.defer("tests:record", queueing_lock="only-one", word="a")
    second = await queue.defer("tests:record", queueing_lock="only-one", word="b")
    assert first is not None
    assert second is None
    assert await queue.has_unfinished("nothing-holds-this") is False


async def test_jobs_sharing_a_lock_run_one_at_a_time(pool: asyncpg.Pool, queue: JobQueue) -> None:
    seen: list[str] = []
    for name in ("a", "b"):
        await queue.defer("tests:overlap", lock="one-library", name=name)
    await queue.defer("tests:overlap", lock="another", name="c")
    assert await queue.has_unfinished("one-library") is True
    worker = queue.start_worker(concurrency=3, additional_context={"seen": seen})
    try:
        await until(pool, "SELECT count(*) FROM procrastinate_jobs", 0)
    finally:
        await stop_worker(worker)
    locked = [event for event in seen if not event.endswith("c")]
    assert locked == ["start a", "end a", "start b", "end b"]
    assert seen.index("start c") < seen.index("end a")  # another lock ran meanwhile


async def test_a_stopped_worker_hands_its_running_job_back(
    pool: asyncpg.Pool, queue: JobQueue
) -> None:
    started = asyncio.Event()
    job_id = await queue.defer("tests:forever")
    worker = queue.start_worker(concurrency=1, additional_context={"started": started})
    async with asyncio.timeout(20):
        await started.wait()
    await stop_worker(worker)
    job = await pool.fetchrow(
        "SELECT status, attempts, worker_id FROM procrastinate_jobs WHERE id = $1", job_id
    )
    assert dict(job) == {"status": "todo", "attempts": 1, "worker_id": None}
    assert await pool.fetchval("SELECT count(*) FROM procrastinate_workers") == 0


async def test_jobs_of_a_dead_or_silent_worker_are_handed_back_and_a_live_ones_kept(
    pool: asyncpg.Pool, queue: JobQueue
) -> None:
    ids = [await queue.defer("tests:record", word=w) for w in ("dead", "silent", "live")]
    # "dead": a worker whose liveness lock nobody holds (its process is gone).
    bare = JobManager(queue.app.connector)
    dead = await bare.register_worker()
    # "silent" and "live" hold their liveness locks; "silent" stopped sending heartbeats.
    ours = queue.app.job_manager
    silent = await ours.register_worker()
    live = await ours.register_worker()
    for worker_id in (dead, silent, live):
        assert await ours.fetch_job(queues=None, worker_id=worker_id) is not None
    await pool.execute(
        "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 minute' "
        "WHERE id = $1",
        silent,
    )
    try:
        handed_back = await queue.retry_stalled_jobs()
        statuses = await pool.fetch("SELECT id, status FROM procrastinate_jobs ORDER BY id")
    finally:
        for worker_id in (silent, live):
            await ours.unregister_worker(worker_id)
    assert handed_back == ids[:2]
    assert [(r["id"], r["status"]) for r in statuses] == [
        (ids[0], "todo"),
        (ids[1], "todo"),
        (ids[2], "doing"),
    ]


RACE = """
import asyncio, sys
from infra.jobs import apply_schema
print(asyncio.run(apply_schema(sys.argv[1])))
"""


async def test_the_schema_is_applied_once_when_two_processes_race(database_url: str) -> None:
    name = f"revenge_jobs_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = urlunparse(urlparse(database_url)._replace(path="/" + name))
        racers = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", RACE, url, stdout=asyncio.subprocess.PIPE
            )
            for _ in range(2)
        ]
        finished = await asyncio.wait_for(
            asyncio.gather(*(racer.communicate() for racer in racers)), 60
        )
        outputs = sorted(output.decode().split()[-1] for output, _ in finished)
        fresh = await asyncpg.connect(url)
        try:
            tables = await fresh.fetchval(
                "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'procrastinate%'"
            )
        finally:
            await fresh.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    assert outputs == ["False", "True"]
    assert tables == 4
