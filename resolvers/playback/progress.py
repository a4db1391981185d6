"""Progress of a playback session: heartbeats written straight through, and stops.

``report_progress`` is the uncoalesced path (one transaction per heartbeat), used where no
``HeartbeatCoalescer`` runs; the coalescer shares its checks (``check_heartbeat``, the ownership
rules) and its resume rules. A session belongs to the profile that started it: for any other
profile or account, heartbeats and stops answer NOT_FOUND, as for an unknown session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from infra.bus import EventBus
from infra.errors import BadUserInput, NotFound
from resolvers.playback.leases import publish_playback, publish_stopped
from resolvers.playback.resume import MAX_POSITION_MS, ResumeRules, resume_state
from resolvers.playback.sessions import TOPIC, Viewer, _event

__all__ = [
    "DURATION_SLACK_MS",
    "MAX_BUFFERED_MS",
    "Progress",
    "check_heartbeat",
    "checked_report_time",
    "report_progress",
    "stop_playback",
]

# A heartbeat may run a little past the probed duration (rounding, trailing frames).
DURATION_SLACK_MS = 60_000


@dataclass(frozen=True, slots=True)
class Progress:
    session_id: uuid.UUID
    resume_position_ms: int
    is_played: bool
    is_paused: bool


# A player buffers seconds to minutes ahead; an hour is already generous.
MAX_BUFFERED_MS = 60 * 60 * 1000


def check_heartbeat(position_ms: int, buffered_ms: int | None) -> None:
    if not 0 <= position_ms <= MAX_POSITION_MS:
        raise BadUserInput("positionMs is out of range", argument="positionMs")
    if buffered_ms is not None and not 0 <= buffered_ms <= MAX_BUFFERED_MS:
        raise BadUserInput("bufferedMs is out of range", argument="bufferedMs")


def checked_report_time(reported_at: datetime | None) -> datetime:
    """The time a report orders by: the client's, never later than now (a fast clock must not
    freeze a session's position), or now when it sent none."""
    now = datetime.now(UTC)
    if reported_at is None:
        return now
    if reported_at.tzinfo is None:
        raise BadUserInput("reportedAt needs a time zone offset", argument="reportedAt")
    return min(reported_at, now)


async def _owned_session(
    conn: asyncpg.Connection, viewer: Viewer, session_id: uuid.UUID
) -> asyncpg.Record:
    session: asyncpg.Record | None = await conn.fetchrow(
        "SELECT s.*, coalesce(f.duration_ms, i.runtime_ms) AS duration_ms "
        "FROM playback_sessions AS s "
        "JOIN media_files AS f ON f.id = s.file_id JOIN media_items AS i ON i.id = s.item_id "
        "WHERE s.id = $1 FOR UPDATE OF s",
        session_id,
    )
    if session is None or not viewer.owns(session):
        raise NotFound("no such playback session", argument="sessionId")
    return session


async def report_progress(
    pool: asyncpg.Pool,
    bus: EventBus,
    viewer: Viewer,
    session_id: uuid.UUID,
    position_ms: int,
    is_paused: bool | None = None,
    buffered_ms: int | None = None,
    rules: ResumeRules = ResumeRules(),
    reported_at: datetime | None = None,
) -> Progress:
    """A heartbeat: store the position on the session and the profile's watch state. As in the
    coalescer, a report older (by ``reported_at``, the client's time; default now) than the
    newest applied to the session counts its play but moves nothing: reports of one session
    may reach different processes out of order."""
    check_heartbeat(position_ms, buffered_ms)
    reported = checked_report_time(reported_at)
    events = []
    async with pool.acquire() as conn, conn.transaction():
        session = await _owned_session(conn, viewer, session_id)
        if session["stopped_at"] is not None:
            raise BadUserInput("this playback session has stopped", argument="sessionId")
        duration = session["duration_ms"]
        if duration is not None and position_ms > duration + DURATION_SLACK_MS:
            raise BadUserInput("positionMs is past the end of the file", argument="positionMs")
        state = resume_state(position_ms, duration, rules)
        scrobble = state.is_played and not session["is_scrobbled"]
        paused = session["is_paused"] if is_paused is None else is_paused
        # The session row is locked (FOR UPDATE in _owned_session), so reported_at is current.
        newer = session["reported_at"] is None or reported >= session["reported_at"]
        if not newer:
            paused = session["is_paused"]
        await conn.execute(
            "UPDATE playback_sessions SET "
            "position_ms = CASE WHEN $6 THEN $2 ELSE position_ms END, is_paused = $3, "
            "is_scrobbled = is_scrobbled OR $4, "
            "buffered_ms = CASE WHEN $6 THEN coalesce($5, buffered_ms) ELSE buffered_ms END, "
            "reported_at = greatest(reported_at, $7), last_heartbeat_at = now() WHERE id = $1",
            session_id,
            position_ms,
            paused,
            state.is_played,
            buffered_ms,
            newer,
            reported,
        )
        await conn.execute(
            "INSERT INTO user_data "
            "(user_id, profile_id, item_id, position_ms, is_played, play_count, last_played_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, now()) "
            "ON CONFLICT (profile_id, item_id) DO UPDATE SET "
            "position_ms = CASE WHEN $7 THEN EXCLUDED.position_ms ELSE user_data.position_ms END, "
            "is_played = user_data.is_played OR EXCLUDED.is_played, "
            "play_count = user_data.play_count + EXCLUDED.play_count, "
            "last_played_at = now()",
            session["user_id"],
            session["profile_id"],
            session["item_id"],
            state.position_ms,
            state.is_played,
            1 if scrobble else 0,
            newer,
        )
        if paused != session["is_paused"]:
            events.append("paused" if paused else "resumed")
        if scrobble:
            events.append("scrobble")
    for kind in events:
        await publish_playback(
            bus, TOPIC, _event(kind, viewer, session_id, session["item_id"], position_ms)
        )
    return Progress(
        session_id=session_id,
        resume_position_ms=state.position_ms,
        is_played=state.is_played,
        is_paused=paused,
    )


async def stop_playback(
    pool: asyncpg.Pool, bus: EventBus, viewer: Viewer, session_id: uuid.UUID
) -> uuid.UUID:
    """End the caller's session (idempotent for its owner)."""
    async with pool.acquire() as conn, conn.transaction():
        session = await _owned_session(conn, viewer, session_id)
        if session["stopped_at"] is not None:
            return session_id
        await conn.execute(
            "UPDATE playback_sessions SET stopped_at = now(), stop_reason = 'stopped' "
            "WHERE id = $1",
            session_id,
        )
    await publish_stopped(bus, TOPIC, [session], "stopped")
    return session_id
