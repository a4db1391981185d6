"""Retention (``resolvers.user.retention``): old webhook events with their deliveries and
attempts, and old automatic persisted queries, deleted in batches on real PostgreSQL; the hourly
job deferred by a real worker's periodic deferrer."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from infra.jobs import open_job_queue, stop_worker
from infra.settings import Settings
from resolvers.user import retention

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


async def add_endpoint(pool: asyncpg.Pool) -> uuid.UUID:
    endpoint: uuid.UUID = await pool.fetchval(
        "INSERT INTO webhook_endpoints (name, url, secret, event_types) "
        "VALUES ('Home Assistant', 'http://ha.local/hook', 'whsec_eA==', '{playback.started}') "
        "RETURNING id"
    )
    return endpoint


async def add_event(
    pool: asyncpg.Pool, endpoint: uuid.UUID, age: timedelta, status: str
) -> uuid.UUID:
    """An event ``age`` old with one delivery in ``status`` (and an attempt when it was tried)."""
    event = uuid.uuid4()
    created = NOW - age
    await pool.execute(
        "INSERT INTO webhook_events (id, type, occurred_at, payload, created_at) "
        "VALUES ($1, 'playback.started', $2, '{}', $2)",
        event,
        created,
    )
    delivery = await pool.fetchval(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempt_count, created_at)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING id",
        endpoint,
        event,
        status,
        0 if status == "pending" else 1,
        created,
    )
    if status != "pending":
        await pool.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, duration_ms) "
            "VALUES ($1, 1, 200, 12)",
            delivery,
        )
    return event


async def add_document(pool: asyncpg.Pool, text: str, age: timedelta) -> str:
    sha = hashlib.sha256(text.encode()).hexdigest()
    await pool.execute(
        "INSERT INTO persisted_queries (sha256, document, created_at) VALUES ($1, $2, $3)",
        sha,
        text,
        NOW - age,
    )
    return sha


async def test_old_finished_webhook_events_and_old_documents_go_in_batches(
    pool: asyncpg.Pool,
) -> None:
    endpoint = await add_endpoint(pool)
    old_done = [
        await add_event(pool, endpoint, timedelta(days=40 + n), status)
        for n, status in enumerate(["delivered", "failed", "skipped", "delivered", "failed"])
    ]
    old_pending = await add_event(pool, endpoint, timedelta(days=45), "pending")
    recent = await add_event(pool, endpoint, timedelta(days=2), "delivered")
    old_docs = [await add_document(pool, f"{{ a{n} }}", timedelta(days=100 + n)) for n in range(3)]
    recent_doc = await add_document(pool, "{ recent }", timedelta(days=10))
    client = await pool.fetchval("INSERT INTO api_clients (name) VALUES ('TV app') RETURNING id")
    await pool.execute(
        "INSERT INTO api_client_documents (client_id, sha256, operation_type, document, "
        "created_at) VALUES ($1, $2, 'query', '{ trusted }', $3)",
        client,
        "f" * 64,
        NOW - timedelta(days=400),
    )

    pruned = await retention.prune(pool, webhook_days=30, persisted_query_days=90, now=NOW, batch=2)

    assert pruned == retention.Pruned(webhook_events=5, persisted_queries=3)
    events = {row["id"] for row in await pool.fetch("SELECT id FROM webhook_events")}
    assert events == {old_pending, recent}  # a pending delivery keeps its event
    kept = await pool.fetch("SELECT event_id FROM webhook_deliveries")
    assert {row["event_id"] for row in kept} == {old_pending, recent}
    assert await pool.fetchval("SELECT count(*) FROM webhook_attempts") == 1  # the recent one
    for event in old_done:
        assert await pool.fetchval("SELECT 1 FROM webhook_events WHERE id = $1", event) is None
    documents = {row["sha256"] for row in await pool.fetch("SELECT sha256 FROM persisted_queries")}
    assert documents == {recent_doc}
    assert not documents & set(old_docs)
    assert await pool.fetchval("SELECT count(*) FROM api_client_documents") == 1  # never pruned
    assert await pool.fetchval("SELECT count(*) FROM webhook_endpoints") == 1

    again = await retention.prune(pool, webhook_days=30, persisted_query_days=90, now=NOW)
    assert again == retention.Pruned(0, 0)


async def test_the_hourly_job_is_deferred_and_run_by_a_worker(
    pool: asyncpg.Pool, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "CRON", "* * * * * *")  # every second (a 6th field: seconds)
    endpoint = await add_endpoint(pool)
    old = await add_event(pool, endpoint, timedelta(days=400), "delivered")
    await pool.execute("UPDATE webhook_events SET created_at = now() - interval '400 days'")
    recent = await add_event(pool, endpoint, timedelta(days=0), "delivered")
    await pool.execute("UPDATE webhook_events SET created_at = now() WHERE id = $1", recent)
    queue = await open_job_queue(database_url, {retention.NAMESPACE: retention.blueprint()})
    try:
        worker = queue.start_worker(
            concurrency=1,
            queues=[retention.MAINTENANCE_QUEUE],
            additional_context={"pool": pool, "settings": Settings()},
        )
        try:
            async with asyncio.timeout(20):
                while await pool.fetchval("SELECT 1 FROM webhook_events WHERE id = $1", old):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        finally:
            await stop_worker(worker)
    finally:
        await queue.close()
    assert await pool.fetchval("SELECT 1 FROM webhook_events WHERE id = $1", recent) == 1
