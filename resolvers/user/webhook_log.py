"""The delivery log (deliveries with their attempts) and test sends.

A test send (``webhook.test``) bypasses the queue: it is one attempt made now, so the
administrator sees the receiver's answer in the mutation's result. It goes to a disabled
endpoint too (to check it before enabling it again) and never counts towards disabling.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from infra.bus import EventBus
from infra.errors import NotFound
from infra.server_events import new_event_id
from infra.webhook_client import WebhookClient
from resolvers.user.webhook_delivery import DeliveryPolicy, attempt_delivery

__all__ = ["Delivery", "list_deliveries", "load_deliveries", "send_test"]

MAX_DELIVERIES = 200


@dataclass(frozen=True, slots=True)
class Delivery:
    row: asyncpg.Record
    attempts: list[asyncpg.Record]


_DELIVERIES = """
SELECT d.id, d.endpoint_id, d.event_id, d.status, d.attempt_count, d.is_test, d.redelivery_of,
       d.created_at, d.finished_at, e.type AS event_type, e.payload
  FROM webhook_deliveries AS d
  JOIN webhook_events AS e ON e.id = d.event_id
"""
_ATTEMPTS = (
    "SELECT delivery_id, attempt, status_code, duration_ms, response_snippet, error, created_at "
    "FROM webhook_attempts WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, attempt"
)


async def _with_attempts(conn: asyncpg.Pool, rows: list[asyncpg.Record]) -> list[Delivery]:
    attempts: dict[uuid.UUID, list[asyncpg.Record]] = {row["id"]: [] for row in rows}
    if rows:
        for attempt in await conn.fetch(_ATTEMPTS, list(attempts)):
            attempts[attempt["delivery_id"]].append(attempt)
    return [Delivery(row, attempts[row["id"]]) for row in rows]


async def list_deliveries(pool: asyncpg.Pool, webhook_id: uuid.UUID, first: int) -> list[Delivery]:
    """The endpoint's newest deliveries first, each with its attempts: two statements."""
    rows = await pool.fetch(
        _DELIVERIES + " WHERE d.endpoint_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2",
        webhook_id,
        max(0, min(first, MAX_DELIVERIES)),
    )
    return await _with_attempts(pool, list(rows))


async def load_deliveries(pool: asyncpg.Pool, ids: list[uuid.UUID]) -> list[Delivery]:
    rows = await pool.fetch(_DELIVERIES + " WHERE d.id = ANY($1::uuid[])", ids)
    by_id = {row["id"]: row for row in rows}
    return await _with_attempts(pool, [by_id[i] for i in ids if i in by_id])


async def send_test(
    pool: asyncpg.Pool,
    bus: EventBus,
    client: WebhookClient,
    webhook_id: uuid.UUID,
) -> Delivery:
    """Send a ``webhook.test`` event to the endpoint now; the logged delivery."""
    event_id, delivery_id = new_event_id(), new_event_id()
    async with pool.acquire() as conn, conn.transaction():
        endpoint = await conn.fetchrow(
            "SELECT id, name FROM webhook_endpoints WHERE id = $1", webhook_id
        )
        if endpoint is None:
            raise NotFound("no webhook has this id", field="id")
        payload = {
            "id": str(event_id),
            "type": "webhook.test",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "data": {
                "webhook": {"id": str(endpoint["id"]), "name": endpoint["name"]},
                "message": "a test event from Revenge",
            },
        }
        await conn.execute(
            "INSERT INTO webhook_events (id, type, occurred_at, payload) "
            "VALUES ($1, 'webhook.test', now(), $2)",
            event_id,
            payload,
        )
        await conn.execute(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, is_test) "
            "VALUES ($1, $2, $3, true)",
            delivery_id,
            webhook_id,
            event_id,
        )
    await attempt_delivery(pool, bus, client, DeliveryPolicy(), delivery_id, final=True)
    return (await load_deliveries(pool, [delivery_id]))[0]
