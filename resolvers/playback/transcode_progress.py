"""Following a transcode: the state of each encoder run now, then every change the workers
publish (topic ``transcode:<session>``), until the session's encoders stop or fail."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import asyncpg

from infra.bus import EventBus, subscription
from infra.errors import NotFound
from resolvers.playback.sessions import Viewer
from resolvers.playback.transcodes import RUN_STALE_SECONDS

__all__ = ["FINAL_STATUSES", "check_owner", "transcode_topic", "watch_transcode"]

FINAL_STATUSES = frozenset({"failed", "stopped"})


def transcode_topic(session_id: uuid.UUID) -> str:
    return f"transcode:{session_id}"


async def _current(pool: asyncpg.Pool, session_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT e.variant, e.status, e.segment, e.segments_ready, e.frames, e.speed, "
        "e.failure_code, e.failure_message, t.encoder, cardinality(t.segment_starts) AS count "
        "FROM transcode_encoders AS e JOIN transcode_sessions AS t USING (session_id) "
        "WHERE e.session_id = $1 ORDER BY e.variant",
        session_id,
    )
    return [
        {
            "type": "transcode.progress",
            "sessionId": str(session_id),
            "variant": row["variant"],
            "status": row["status"],
            "segment": row["segment"] or 0,
            "segmentsReady": row["segments_ready"],
            "segmentCount": row["count"],
            "frames": row["frames"],
            "speed": row["speed"],
            "encoder": row["encoder"],
            "failureCode": row["failure_code"],
            "failureMessage": row["failure_message"],
        }
        for row in rows
    ]


async def check_owner(pool: asyncpg.Pool, viewer: Viewer, session_id: uuid.UUID) -> None:
    """The caller's profile's own session only: another profile's or account's is NotFound, as
    if it did not exist."""
    owner = await pool.fetchrow(
        "SELECT s.user_id, s.profile_id FROM transcode_sessions AS t "
        "JOIN playback_sessions AS s ON s.id = t.session_id WHERE t.session_id = $1",
        session_id,
    )
    if owner is None or not viewer.owns(owner):
        raise NotFound("no such transcode session", argument="sessionId")


async def watch_transcode(
    pool: asyncpg.Pool, bus: EventBus, session_id: uuid.UUID
) -> AsyncGenerator[Mapping[str, Any], None]:
    """Call ``check_owner`` first."""
    async with subscription(bus, transcode_topic(session_id)) as events:
        for state in await _current(pool, session_id):
            yield state
        while True:
            try:
                event = await asyncio.wait_for(events.next(), RUN_STALE_SECONDS * 12)
            except (TimeoutError, StopAsyncIteration):
                return  # nobody encodes for this session any more, or the bus closed
            yield event
            if event.get("status") in FINAL_STATUSES:
                return
