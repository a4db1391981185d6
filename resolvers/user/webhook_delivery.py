"""Delivering webhooks: an endpoint's pending deliveries are its queue, drained in order by
one job at a time on the ``webhooks`` queue; one log row per attempt.

A drain job holds the endpoint's procrastinate lock, so a slow or failing endpoint takes one
worker slot at most and never delays the others, and its deliveries go out one at a time in
the order their events happened. A failed attempt keeps its place at the head: the job is
retried by procrastinate itself after an exponential back-off with jitter (and meanwhile no
other job of the endpoint runs); after ``max_attempts`` the delivery is failed and the next one
goes. ``disable_after_failures`` failed deliveries in a row disable the endpoint and publish
``webhook.disabled`` (which other endpoints may receive). A job sends at most
``DELIVERIES_PER_JOB`` and then queues its successor, so with more busy endpoints than worker
slots each gets its turn. The worker passes ``pool``, ``bus``, ``webhook_client`` and
``webhook_policy`` in the job context.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from procrastinate import BaseRetryStrategy, Blueprint, JobContext, RetryDecision
from procrastinate import exceptions as procrastinate_errors
from procrastinate.jobs import Job

from infra.bus import EventBus
from infra.jobs import defer_in_transaction
from infra.logging_redaction import redact_url, redact_urls_in
from infra.server_events import new_event_id, publish_server_event
from infra.settings import Settings
from infra.webhook_client import WebhookClient, WebhookResult

__all__ = [
    "DELIVERY_QUEUE",
    "DELIVER_TASK",
    "NAMESPACE",
    "DeliveryPolicy",
    "attempt_delivery",
    "blueprint",
    "defer_drains",
    "endpoint_lock",
    "redeliver",
]

log = structlog.get_logger("revenge.webhooks")

NAMESPACE = "webhooks"
DELIVERY_QUEUE = "webhooks"
DELIVER_TASK = f"{NAMESPACE}:deliver"
TROUBLE_RETRY_S = 5


def endpoint_lock(endpoint_id: uuid.UUID | str) -> str:
    """The procrastinate lock of an endpoint's delivery jobs: one at a time, in order."""
    return f"webhook:{endpoint_id}"


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    max_attempts: int = 8
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 600.0
    disable_after_failures: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            max_attempts=settings.webhook_max_attempts,
            retry_base_seconds=settings.webhook_retry_base_seconds,
            retry_max_seconds=settings.webhook_retry_max_seconds,
            disable_after_failures=settings.webhook_disable_after_failures,
        )

    def polling_interval(self) -> float:
        """How often the worker looks for retries that came due: a fraction of the shortest
        back-off, between 20 ms and 1 s."""
        return max(0.02, min(1.0, self.retry_base_seconds / 4))

    def backoff(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1``: base · 2^(attempt-1), capped, ±20 %."""
        delay = min(self.retry_max_seconds, self.retry_base_seconds * 2.0 ** (attempt - 1))
        return delay * random.uniform(0.8, 1.2)


class RetryLater(Exception):
    """The attempt failed and another is due in ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"next attempt in {delay:.3f} s")
        self.delay = delay


class _RetryAsAsked(BaseRetryStrategy):
    """Retry a job that asked (``RetryLater``), that its stopping worker aborted, or that met
    trouble (the database went away …): an endpoint's deliveries never wait without a job."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, RetryLater):
            return RetryDecision(retry_in={"milliseconds": int(exception.delay * 1000)})
        if isinstance(exception, asyncio.CancelledError | procrastinate_errors.JobAborted):
            return RetryDecision(retry_in={"seconds": 0})
        if isinstance(exception, Exception):
            log.warning(
                "webhook delivery job failed; retrying", error=redact_urls_in(repr(exception))
            )
            return RetryDecision(retry_in={"seconds": TROUBLE_RETRY_S})
        return None


def blueprint() -> Blueprint:
    tasks = Blueprint()
    tasks.task(name="deliver", queue=DELIVERY_QUEUE, pass_context=True, retry=_RetryAsAsked())(
        deliver
    )
    return tasks


DELIVERIES_PER_JOB = 100


async def deliver(context: JobContext, endpoint_id: str) -> None:
    """Deliver the endpoint's pending deliveries in order, until none is left."""
    extra: dict[str, Any] = context.additional_context
    pool: asyncpg.Pool = extra["pool"]
    endpoint = uuid.UUID(endpoint_id)
    for _ in range(DELIVERIES_PER_JOB):
        head = await pool.fetchrow(_HEAD, endpoint)
        if head is None:
            return
        if head["wait"]:
            raise RetryLater(float(head["wait"]))
        retry_in = await _attempt(
            pool, extra["bus"], extra["webhook_client"], extra["webhook_policy"], head
        )
        if retry_in is not None:
            raise RetryLater(retry_in)
    async with pool.acquire() as conn:  # more remain: behind the other endpoints' turns
        await defer_drains(conn, [endpoint])


async def defer_drains(conn: asyncpg.Connection, endpoint_ids: list[uuid.UUID]) -> None:
    """Make sure each endpoint has a drain job waiting, in the caller's transaction (one that
    runs already may have looked for work before the caller's deliveries existed)."""
    await defer_in_transaction(
        conn,
        DELIVER_TASK,
        DELIVERY_QUEUE,
        [(endpoint_lock(endpoint), {"endpoint_id": str(endpoint)}) for endpoint in endpoint_ids],
        unless_waiting=True,
    )


_DELIVERY = """
SELECT d.id, d.status, d.attempt_count, d.is_test, d.event_id, e.payload,
       w.id AS endpoint_id, w.url, w.is_enabled, w.secret, w.consecutive_failures,
       CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END AS previous,
       greatest(extract(epoch FROM d.next_attempt_at - now()), 0) AS wait
  FROM webhook_deliveries AS d
  JOIN webhook_events AS e ON e.id = d.event_id
  JOIN webhook_endpoints AS w ON w.id = d.endpoint_id
"""
_LOAD = _DELIVERY + " WHERE d.id = $1"
# An endpoint's next delivery: the oldest pending one.
_HEAD = (
    _DELIVERY + " WHERE d.endpoint_id = $1 AND d.status = 'pending' AND NOT d.is_test "
    "ORDER BY d.id LIMIT 1"
)


def body_of(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


async def attempt_delivery(
    pool: asyncpg.Pool,
    bus: EventBus,
    client: WebhookClient,
    policy: DeliveryPolicy,
    delivery_id: uuid.UUID,
    *,
    final: bool = False,
) -> float | None:
    """One attempt at a pending delivery, logged; seconds until the next one, or None when the
    delivery ended (delivered, failed, skipped, gone). ``final``: no retry (test sends); a test
    also goes to a disabled endpoint and never counts towards disabling it."""
    row = await pool.fetchrow(_LOAD, delivery_id)
    if row is None:
        return None  # deleted with its endpoint
    return await _attempt(pool, bus, client, policy, row, final=final)


async def _attempt(
    pool: asyncpg.Pool,
    bus: EventBus,
    client: WebhookClient,
    policy: DeliveryPolicy,
    row: asyncpg.Record,
    *,
    final: bool = False,
) -> float | None:
    if row["status"] != "pending":
        return None  # ended already
    if not row["is_enabled"] and not row["is_test"]:
        await pool.execute(  # and every other delivery waiting for it
            "UPDATE webhook_deliveries SET status = 'skipped', finished_at = now() "
            "WHERE endpoint_id = $1 AND status = 'pending' AND NOT is_test",
            row["endpoint_id"],
        )
        return None
    secrets = [row["secret"], *([row["previous"]] if row["previous"] else [])]
    result = await client.post(
        row["url"], body_of(row["payload"]), message_id=str(row["event_id"]), secrets_=secrets
    )
    attempt = row["attempt_count"] + 1
    last = final or row["is_test"] or attempt >= policy.max_attempts
    status = "delivered" if result.ok else ("failed" if last else "pending")
    retry_in = policy.backoff(attempt) if status == "pending" else None
    if not result.ok:
        # The URL's path is the receiver's secret (a Home Assistant webhook id): host only.
        log.info(
            "webhook attempt failed",
            webhook=str(row["endpoint_id"]),
            url=redact_url(row["url"]),
            attempt=attempt,
            status_code=result.status_code,
            error=redact_urls_in(result.error) if result.error else None,
            next=status,
        )
    disabled = await _record(pool, row, attempt, result, status, policy, retry_in)
    if disabled is not None:
        await publish_server_event(bus, "webhook.disabled", disabled)
    return retry_in


async def _record(
    pool: asyncpg.Pool,
    row: asyncpg.Record,
    attempt: int,
    result: WebhookResult,
    status: str,
    policy: DeliveryPolicy,
    retry_in: float | None,
) -> dict[str, Any] | None:
    """Log the attempt and its outcome; the ``webhook.disabled`` data when it disabled the
    endpoint."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, duration_ms, "
            "response_snippet, error) VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT (delivery_id, attempt) DO NOTHING",
            row["id"], attempt, result.status_code, result.duration_ms, result.snippet,
            result.error,
        )  # fmt: skip
        await conn.execute(
            "UPDATE webhook_deliveries SET attempt_count = $2, status = $3, "
            "next_attempt_at = now() + make_interval(secs => $4), "
            "finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE now() END WHERE id = $1",
            row["id"],
            attempt,
            status,
            retry_in or 0.0,
        )
        if row["is_test"] or status == "pending":
            return None
        if status == "delivered":
            if row["consecutive_failures"]:
                await conn.execute(
                    "UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = $1",
                    row["endpoint_id"],
                )
            return None
        endpoint = await conn.fetchrow(
            "WITH before AS (SELECT id, is_enabled FROM webhook_endpoints WHERE id = $1 "
            "  FOR UPDATE) "
            "UPDATE webhook_endpoints AS w SET consecutive_failures = w.consecutive_failures + 1, "
            "is_enabled = w.is_enabled AND w.consecutive_failures + 1 < $2, "
            "disabled_reason = CASE WHEN w.is_enabled AND w.consecutive_failures + 1 >= $2 "
            "  THEN $3 ELSE w.disabled_reason END "
            "FROM before WHERE w.id = before.id "
            "RETURNING w.id, w.url, w.is_enabled, before.is_enabled AS was_enabled, "
            "w.consecutive_failures, w.disabled_reason",
            row["endpoint_id"],
            policy.disable_after_failures,
            f"{policy.disable_after_failures} deliveries in a row failed",
        )
    if endpoint is None or endpoint["is_enabled"] or not endpoint["was_enabled"]:
        return None  # still enabled, or disabled before this failure
    log.warning("webhook disabled", webhook=str(endpoint["id"]), url=redact_url(endpoint["url"]))
    return {
        "webhookId": str(endpoint["id"]),
        "reason": endpoint["disabled_reason"],
        "consecutiveFailures": endpoint["consecutive_failures"],
        "lastStatusCode": result.status_code,
        "lastError": result.error,
    }


async def redeliver(pool: asyncpg.Pool, delivery_id: uuid.UUID) -> uuid.UUID | None:
    """A new delivery of a logged one's event to its endpoint, queued behind the endpoint's
    others; its id, or None when no delivery has this id."""
    new_id = new_event_id()
    async with pool.acquire() as conn, conn.transaction():
        endpoint_id = await conn.fetchval(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, redelivery_of) "
            "SELECT $2, endpoint_id, event_id, id FROM webhook_deliveries WHERE id = $1 "
            "RETURNING endpoint_id",
            delivery_id,
            new_id,
        )
        if endpoint_id is None:
            return None
        await defer_drains(conn, [endpoint_id])
    return new_id
