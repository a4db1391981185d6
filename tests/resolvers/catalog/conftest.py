"""A job queue on the test database, with the catalog's tasks, for the scan tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from infra.jobs import JobQueue, open_job_queue
from resolvers.catalog import scan_jobs


@pytest.fixture
async def jobs(pool: asyncpg.Pool, database_url: str) -> AsyncIterator[JobQueue]:
    queue = await open_job_queue(database_url, {scan_jobs.NAMESPACE: scan_jobs.blueprint()})
    try:
        yield queue
    finally:
        await queue.close()
