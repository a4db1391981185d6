"""Retention: what the server keeps only for a while, pruned by an hourly job.

- Webhook events older than ``webhooks.retention_days`` (30), with their deliveries and their
  attempts, once none of their deliveries is still pending: the delivery log an administrator
  reads covers that window, and the tables stop growing with every playback event.
- Automatic persisted queries stored more than ``graphql.persisted_query_retention_days`` (90)
  ago. They are a cache: a client whose hash is no longer known gets
  ``PERSISTED_QUERY_NOT_FOUND`` and sends the text again, which stores it anew. This bounds what
  anonymous callers can make the server keep, on top of the per-caller registration quota.
  (Trusted documents of API clients are registered by an administrator and never pruned.)

Rows go in batches of ``BATCH`` (each its own short statement), oldest first, so a large
backlog never holds locks for long. Every process's workers may run the job; procrastinate
defers one per hour however many there are, and ``SKIP LOCKED`` lets two runs share a backlog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog
from procrastinate import Blueprint, JobContext

from infra.settings import Settings

__all__ = [
    "BATCH",
    "MAINTENANCE_QUEUE",
    "NAMESPACE",
    "Pruned",
    "blueprint",
    "prune",
]

log = structlog.get_logger("revenge.retention")

NAMESPACE = "retention"
MAINTENANCE_QUEUE = "maintenance"
CRON = "17 * * * *"  # hourly, off the hour
BATCH = 1000

_WEBHOOK_EVENTS = """
WITH doomed AS (
    SELECT e.id FROM webhook_events AS e
     WHERE e.created_at < $1
       AND NOT EXISTS (
           SELECT 1 FROM webhook_deliveries AS d
            WHERE d.event_id = e.id AND d.status = 'pending'
       )
     ORDER BY e.created_at
     LIMIT $2
       FOR UPDATE OF e SKIP LOCKED
)
DELETE FROM webhook_events AS e USING doomed WHERE e.id = doomed.id
"""
_PERSISTED_QUERIES = """
WITH doomed AS (
    SELECT sha256 FROM persisted_queries
     WHERE created_at < $1
     ORDER BY created_at
     LIMIT $2
       FOR UPDATE SKIP LOCKED
)
DELETE FROM persisted_queries AS p USING doomed WHERE p.sha256 = doomed.sha256
"""


@dataclass(frozen=True, slots=True)
class Pruned:
    webhook_events: int
    persisted_queries: int


async def prune(
    pool: asyncpg.Pool,
    *,
    webhook_days: float,
    persisted_query_days: float,
    now: datetime | None = None,
    batch: int = BATCH,
) -> Pruned:
    """Delete what is past its retention; how many rows of each kind went."""
    now = now or datetime.now(UTC)
    events = await _in_batches(pool, _WEBHOOK_EVENTS, now - timedelta(days=webhook_days), batch)
    documents = await _in_batches(
        pool, _PERSISTED_QUERIES, now - timedelta(days=persisted_query_days), batch
    )
    return Pruned(webhook_events=events, persisted_queries=documents)


async def _in_batches(pool: asyncpg.Pool, statement: str, before: datetime, batch: int) -> int:
    total = 0
    while True:
        status: str = await pool.execute(statement, before, batch)
        deleted = int(status.rsplit(" ", 1)[1])  # "DELETE <n>"
        total += deleted
        if deleted < batch:
            return total


async def prune_job(context: JobContext, timestamp: int) -> None:
    """The hourly job (``timestamp``: the tick procrastinate deferred it for)."""
    extra: dict[str, Any] = context.additional_context
    settings: Settings = extra["settings"]
    pruned = await prune(
        extra["pool"],
        webhook_days=settings.webhook_retention_days,
        persisted_query_days=settings.persisted_query_retention_days,
    )
    if pruned.webhook_events or pruned.persisted_queries:
        log.info(
            "retention pruned",
            webhook_events=pruned.webhook_events,
            persisted_queries=pruned.persisted_queries,
        )


def blueprint() -> Blueprint:
    tasks = Blueprint()
    task = tasks.task(name="prune", queue=MAINTENANCE_QUEUE, pass_context=True)(prune_job)
    tasks.periodic(cron=CRON, periodic_id="hourly")(task)
    return tasks
