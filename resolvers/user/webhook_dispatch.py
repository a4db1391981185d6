"""From server events to webhook deliveries, once, however many processes hear them.

Every gateway replica (and worker) runs a ``WebhookDispatcher`` on the server events topic;
with Redis each of them hears every event. ``dispatch_events`` inserts the events by their
publish-time id with ``ON CONFLICT DO NOTHING``: the process whose insert wins — alone — adds
the summary, creates one delivery per matching endpoint and makes sure each of those endpoints
has a drain job queued, in the same transaction: a delivery never exists without a job to send
it, and never twice.

Events are handled in batches (whatever arrived while the previous batch was written), so a
burst costs a few transactions rather than one per event; a batch's events are locked in id
order (ids are time-ordered), so two processes never deadlock on the same burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from infra.background import cancel_and_wait
from infra.bus import EventBus, SubscriberTooSlow, subscription
from infra.server_events import SERVER_EVENTS_TOPIC, new_event_id
from resolvers.user.webhook_delivery import defer_drains
from resolvers.user.webhook_events import Summary, summarize

__all__ = ["WebhookDispatcher", "dispatch_events", "matches"]

log = structlog.get_logger("revenge.webhooks")

BATCH_SIZE = 200
BUFFER_SIZE = 10_000
RESUBSCRIBE_DELAY_S = 0.5
WRITE_ATTEMPTS = 3

_ENDPOINTS = (
    "SELECT id, event_types, user_ids, library_ids FROM webhook_endpoints "
    "WHERE is_enabled AND event_types && $1::text[] ORDER BY id"
)
_INSERT_EVENTS = """
INSERT INTO webhook_events (id, type, occurred_at, payload)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::jsonb[])
ON CONFLICT (id) DO NOTHING
RETURNING id
"""
_SET_SUMMARIES = """
UPDATE webhook_events AS e
   SET payload = s.payload, user_id = s.user_id, library_id = s.library_id
  FROM unnest($1::uuid[], $2::jsonb[], $3::uuid[], $4::uuid[])
       AS s(id, payload, user_id, library_id)
 WHERE e.id = s.id
"""
_INSERT_DELIVERIES = """
INSERT INTO webhook_deliveries (id, endpoint_id, event_id)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[])
"""


def matches(endpoint: asyncpg.Record, event_type: str, summary: Summary) -> bool:
    """Whether the endpoint wants the event: its type, and its user and library when the
    endpoint names some (an event about no user never passes a user filter)."""
    if event_type not in endpoint["event_types"]:
        return False
    users, libraries = endpoint["user_ids"], endpoint["library_ids"]
    if users is not None and summary.user_id not in users:
        return False
    return libraries is None or summary.library_id in libraries


def _parsed(event: Any) -> tuple[uuid.UUID, str, datetime] | None:
    try:
        event_id = uuid.UUID(str(event["id"]))
        when = datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))
        kind = str(event["type"])
    except (KeyError, TypeError, ValueError):
        return None
    return event_id, kind, when if when.tzinfo else when.replace(tzinfo=UTC)


async def dispatch_events(pool: asyncpg.Pool, events: Sequence[dict[str, Any]]) -> int:
    """Deliveries created for ``events`` (0 for events another process already took)."""
    by_id: dict[uuid.UUID, tuple[str, datetime, dict[str, Any]]] = {}
    for event in events:
        parsed = _parsed(event)
        if parsed is not None:
            by_id.setdefault(parsed[0], (parsed[1], parsed[2], event))
    if not by_id:
        return 0
    # Which endpoints want these types: one statement, no transaction, since most events (on a
    # server without webhooks, all of them) are wanted by none. (The transaction below reads
    # committed rows statement by statement all the same.)
    types = sorted({kind for kind, _, _ in by_id.values()})
    endpoints = await pool.fetch(_ENDPOINTS, types)
    wanted_types = {kind for endpoint in endpoints for kind in endpoint["event_types"]}
    ids = sorted(event_id for event_id, (kind, _, _) in by_id.items() if kind in wanted_types)
    if not ids:
        return 0
    async with pool.acquire() as conn, conn.transaction():
        won = {
            row["id"]
            for row in await conn.fetch(
                _INSERT_EVENTS,
                ids,
                [by_id[event_id][0] for event_id in ids],
                [by_id[event_id][1] for event_id in ids],
                [by_id[event_id][2] for event_id in ids],
            )
        }
        winners = [event_id for event_id in ids if event_id in won]
        if not winners:
            return 0
        summaries = await summarize(conn, [by_id[event_id][2] for event_id in winners])
        payloads = [
            {**by_id[event_id][2], "id": str(event_id), "data": summary.data}
            for event_id, summary in zip(winners, summaries, strict=True)
        ]
        await conn.execute(
            _SET_SUMMARIES,
            winners,
            payloads,
            [summary.user_id for summary in summaries],
            [summary.library_id for summary in summaries],
        )
        deliveries: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]] = []
        for event_id, summary in zip(winners, summaries, strict=True):
            kind = by_id[event_id][0]
            for endpoint in endpoints:
                if matches(endpoint, kind, summary):
                    deliveries.append((new_event_id(), endpoint["id"], event_id))
        if deliveries:
            await conn.execute(
                _INSERT_DELIVERIES,
                [delivery for delivery, _, _ in deliveries],
                [endpoint for _, endpoint, _ in deliveries],
                [event for _, _, event in deliveries],
            )
            await defer_drains(conn, sorted({endpoint for _, endpoint, _ in deliveries}))
    return len(deliveries)


class WebhookDispatcher:
    """Listens on the server events topic and dispatches what it hears, in batches.

    The subscription is drained into a local buffer at once, so a slow write never makes the
    bus cut this subscriber off; if the bus does (Redis lost), it subscribes again."""

    def __init__(self, pool: asyncpg.Pool, bus: EventBus) -> None:
        self._pool = pool
        self._bus = bus
        self._buffer: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=BUFFER_SIZE)
        self._tasks: list[asyncio.Task[None]] = []
        self.ready = asyncio.Event()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="webhook listener"),
            asyncio.create_task(self._dispatch_forever(), name="webhook dispatcher"),
        ]

    async def wait_ready(self) -> None:
        """Returns once events published from now on are heard."""
        await self.ready.wait()

    async def drain(self) -> None:
        """Returns once everything heard so far is dispatched."""
        await self._buffer.join()

    async def _listen(self) -> None:
        while True:
            try:
                async with subscription(self._bus, SERVER_EVENTS_TOPIC) as events:
                    self.ready.set()
                    async for event in events:
                        try:
                            self._buffer.put_nowait(event)
                        except asyncio.QueueFull:
                            log.error("webhook buffer full: event dropped", event=event.get("id"))
            except SubscriberTooSlow as error:
                log.warning("webhook listener cut off; subscribing again", error=str(error))
            self.ready.clear()
            await asyncio.sleep(RESUBSCRIBE_DELAY_S)

    async def _dispatch_forever(self) -> None:
        while True:
            batch = [await self._buffer.get()]
            while len(batch) < BATCH_SIZE and not self._buffer.empty():
                batch.append(self._buffer.get_nowait())
            try:
                await self._dispatch(batch)
            except Exception:
                log.exception("webhook events not dispatched", count=len(batch))
            finally:
                for _ in batch:
                    self._buffer.task_done()

    async def _dispatch(self, batch: list[dict[str, Any]]) -> None:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                await dispatch_events(self._pool, batch)
                return
            except (asyncpg.PostgresError, OSError) as error:
                # A deadlock with another process, a lost connection: what the other process
                # took is skipped on the next try.
                if attempt == WRITE_ATTEMPTS:
                    log.error("webhook events not dispatched", count=len(batch), error=str(error))
                    return
                await asyncio.sleep(0.1 * attempt)

    async def close(self) -> None:
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await cancel_and_wait(task)
        self._tasks = []
