"""Stream limits and session leases.

A live session holds a lease that its heartbeats renew (``last_heartbeat_at``, written by the
heartbeat coalescer). Limits count a user's and a profile's sessions whose lease is still valid,
so a player that vanished without ``stopPlayback`` stops counting once its lease lapses, on every
replica at once, without waiting for anyone to clean up. The reaper then ends such sessions for
good (``stop_reason = 'expired'``) and publishes ``playback.stopped`` for them; it is idempotent,
so every replica may run it.

Starting a session on a device that already plays something replaces the older session: a TV
that jumps to the next episode never counts twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from infra.authz.service import VisibilityFilter
from infra.background import cancel_and_wait
from infra.bus import EventBus
from infra.database import log_failure
from infra.server_events import publish_server_event
from infra.settings import Settings
from loaders.visibility import visibility_conditions

__all__ = [
    "LeaseReaper",
    "StreamLimits",
    "limit_problem",
    "live_sessions",
    "lock_user_sessions",
    "publish_playback",
    "publish_stopped",
    "reap_expired",
    "replace_device_sessions",
    "stopped_event",
]

log = structlog.get_logger("revenge.playback.leases")


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """0 means "no limit"; ``lease_seconds`` is how long a session lives without a heartbeat."""

    per_user: int = 10
    per_profile: int = 4
    lease_seconds: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamLimits:
        return cls(
            per_user=settings.playback_max_streams_per_user,
            per_profile=settings.playback_max_streams_per_profile,
            lease_seconds=settings.playback_lease_seconds,
        )

    @property
    def heartbeat_interval_ms(self) -> int:
        """How often a client should report: four heartbeats fit in one lease."""
        return max(1000, self.lease_seconds * 1000 // 4)


async def lock_user_sessions(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Serialize session starts of one user until the transaction ends, so two devices
    starting at once cannot both take the last free stream."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('playback:' || $1::uuid::text, 0))", user_id
    )


async def replace_device_sessions(
    conn: asyncpg.Connection, user_id: uuid.UUID, device_id: str
) -> list[asyncpg.Record]:
    """End the device's live sessions (``replaced``); returns them for their events."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "UPDATE playback_sessions SET stopped_at = now(), stop_reason = 'replaced' "
        "WHERE user_id = $1 AND device_id = $2 AND stopped_at IS NULL "
        "RETURNING id, user_id, profile_id, item_id, position_ms",
        user_id,
        device_id,
    )
    return rows


async def limit_problem(
    conn: asyncpg.Connection, user_id: uuid.UUID, profile_id: uuid.UUID, limits: StreamLimits
) -> str | None:
    """Why one more stream is refused, or None when it fits under both limits."""
    if not limits.per_user and not limits.per_profile:
        return None
    row = await conn.fetchrow(
        "SELECT count(*) AS user_streams, "
        "count(*) FILTER (WHERE profile_id = $2) AS profile_streams "
        "FROM playback_sessions WHERE user_id = $1 AND stopped_at IS NULL "
        "AND last_heartbeat_at > now() - make_interval(secs => $3)",
        user_id,
        profile_id,
        float(limits.lease_seconds),
    )
    assert row is not None
    if limits.per_user and row["user_streams"] >= limits.per_user:
        return f"this account already plays {row['user_streams']} of {limits.per_user} streams"
    if limits.per_profile and row["profile_streams"] >= limits.per_profile:
        return (
            f"this profile already plays {row['profile_streams']} of {limits.per_profile} streams"
        )
    return None


async def reap_expired(pool: asyncpg.Pool, lease_seconds: int) -> list[asyncpg.Record]:
    """End every live session whose lease lapsed; returns the sessions this call ended.

    Exactly once with several processes reaping at once: one ``UPDATE … WHERE stopped_at IS
    NULL``; a second reaper's update waits on the row lock, re-reads the row (read committed),
    finds it stopped and skips it, so each session is returned, and its event published
    (``LeaseReaper.reap``), by one caller only."""
    rows: list[asyncpg.Record] = await pool.fetch(
        "UPDATE playback_sessions SET stopped_at = now(), stop_reason = 'expired' "
        "WHERE stopped_at IS NULL AND last_heartbeat_at < now() - make_interval(secs => $1) "
        "RETURNING id, user_id, profile_id, item_id, position_ms",
        float(lease_seconds),
    )
    return rows


def stopped_event(row: asyncpg.Record, reason: str) -> dict[str, Any]:
    return {
        "type": "playback.stopped",
        "sessionId": str(row["id"]),
        "userId": str(row["user_id"]),
        "profileId": str(row["profile_id"]),
        "itemId": str(row["item_id"]),
        "positionMs": row["position_ms"],
        "reason": reason,
    }


async def publish_playback(bus: EventBus, topic: str, event: dict[str, Any]) -> None:
    """On the playback topic (subscriptions) and as a server event (webhooks), which carries
    the same fields under ``data``."""
    await bus.publish(topic, event)
    await publish_server_event(
        bus, event["type"], {key: value for key, value in event.items() if key != "type"}
    )


async def publish_stopped(
    bus: EventBus, topic: str, rows: Sequence[asyncpg.Record], reason: str
) -> None:
    for row in rows:
        await publish_playback(bus, topic, stopped_event(row, reason))


class LeaseReaper:
    """Runs ``reap_expired`` every quarter lease in the background (opened in the lifespan)."""

    def __init__(self, pool: asyncpg.Pool, bus: EventBus, topic: str, lease_seconds: int) -> None:
        self.pool = pool
        self.bus = bus
        self.topic = topic
        self.lease_seconds = lease_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="playback-lease-reaper")

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def reap(self) -> int:
        rows = await reap_expired(self.pool, self.lease_seconds)
        await publish_stopped(self.bus, self.topic, rows, "expired")
        return len(rows)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 4)
            try:
                reaped = await self.reap()
            except Exception as error:
                log_failure(log, "reaping expired playback sessions failed", error)
                continue
            if reaped:
                log.info("expired playback sessions ended", count=reaped)


async def live_sessions(
    pool: asyncpg.Pool,
    owner: tuple[uuid.UUID, uuid.UUID] | None,
    lease_seconds: int,
    visibility: VisibilityFilter,
) -> list[asyncpg.Record]:
    """Sessions holding a valid lease, newest first: one profile's (``owner``: its user id and
    profile id), or everyone's (``None``). ``item_visible`` says whether ``visibility`` (the
    caller's) lets the caller see the session's item."""
    params: list[Any] = [
        owner[0] if owner else None,
        owner[1] if owner else None,
        float(lease_seconds),
    ]

    def add(value: Any, sql_type: str) -> str:
        params.append(value)
        return f"${len(params)}::{sql_type}"

    visible = (
        "false"
        if visibility.nothing_visible
        else " AND ".join(visibility_conditions(visibility, add)) or "true"
    )
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT s.id, s.user_id, s.profile_id, s.item_id, s.file_id, s.method, s.position_ms, "
        "s.is_paused, s.buffered_ms, s.device_id, s.device_profile_name, s.last_heartbeat_at, "
        f"s.created_at, ({visible}) AS item_visible "
        "FROM playback_sessions AS s JOIN media_items AS i ON i.id = s.item_id "
        "WHERE s.stopped_at IS NULL AND s.last_heartbeat_at > now() - make_interval(secs => $3) "
        "AND ($1::uuid IS NULL OR (s.user_id = $1 AND s.profile_id = $2)) "
        "ORDER BY s.created_at DESC, s.id LIMIT 500",
        *params,
    )
    return rows
