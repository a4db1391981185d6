"""Playback sessions: start one (the decision and a signed URL), heartbeats, stop.

A session belongs to the user and profile that started it; heartbeats and stops from anyone else
are refused. Progress lands on the session and on the profile's ``user_data`` under the resume
rules, and the moments other parts care about are published on the bus (topic ``playback``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from infra.authz.service import VisibilityFilter
from infra.bus import EventBus
from infra.errors import BadUserInput, Forbidden, NotFound
from infra.signing import DEFAULT_STREAM_URL_LIFETIME_SECONDS, StreamSigner
from loaders.visibility import visibility_conditions
from media.playback import (
    DeviceProfile,
    PlaybackMethod,
    Reason,
    builtin_profile,
    decide,
    facts_from_rows,
)
from resolvers.playback.resume import MAX_POSITION_MS, resume_state

__all__ = [
    "DEFAULT_DEVICE_PROFILE",
    "PlaybackProblem",
    "Progress",
    "StartedSession",
    "Viewer",
    "report_progress",
    "start_playback",
    "stop_playback",
]

TOPIC = "playback"
DEFAULT_DEVICE_PROFILE = "chromium"
# A heartbeat may run a little past the probed duration (rounding, trailing frames).
_DURATION_SLACK_MS = 60_000


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: uuid.UUID
    profile_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class StartedSession:
    id: uuid.UUID
    stream_url: str
    method: PlaybackMethod
    reasons: tuple[Reason, ...]
    position_ms: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PlaybackProblem:
    """An expected failure: ``code`` is a ``PlaybackErrorCode`` name."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Progress:
    session_id: uuid.UUID
    resume_position_ms: int
    is_played: bool
    is_paused: bool


def _event(kind: str, viewer: Viewer, session_id: Any, item_id: Any, position_ms: int) -> Any:
    return {
        "type": f"playback.{kind}",
        "sessionId": str(session_id),
        "userId": str(viewer.user_id),
        "profileId": str(viewer.profile_id),
        "itemId": str(item_id),
        "positionMs": position_ms,
    }


async def _playable_files(
    pool: asyncpg.Pool, item_id: uuid.UUID, visibility: VisibilityFilter
) -> list[asyncpg.Record] | None:
    """The item's present files in catalog order; None when the item is unknown or hidden."""
    if visibility.nothing_visible:
        return None
    params: list[Any] = [item_id]

    def add(value: Any, sql_type: str) -> str:
        params.append(value)
        return f"${len(params)}::{sql_type}"

    conditions = ["i.id = $1", *visibility_conditions(visibility, add)]
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT i.runtime_ms AS item_runtime_ms, f.* FROM media_items AS i "
        "LEFT JOIN media_files AS f ON f.item_id = i.id AND NOT f.is_missing "
        "WHERE " + " AND ".join(conditions) + " "
        "ORDER BY f.part_number NULLS FIRST, f.version_name NULLS FIRST, f.path, f.id",
        *params,
    )
    if not rows:
        return None
    return [row for row in rows if row["id"] is not None]


async def start_playback(
    pool: asyncpg.Pool,
    bus: EventBus,
    viewer: Viewer,
    visibility: VisibilityFilter,
    item_id: uuid.UUID,
    *,
    signer: StreamSigner | None,
    file_id: uuid.UUID | None = None,
    device_profile_name: str | None = None,
    device_profile: DeviceProfile | None = None,
    audio_stream: int | None = None,
    subtitle_stream: int | None = None,
    start_position_ms: int | None = None,
    now: float | None = None,
) -> StartedSession | PlaybackProblem:
    """Decide how the caller's device plays the item and open a session for it; a
    ``device_profile`` the client sent wins over ``device_profile_name``."""
    if start_position_ms is not None and not 0 <= start_position_ms <= MAX_POSITION_MS:
        raise BadUserInput("startPositionMs is out of range", argument="startPositionMs")
    if device_profile is not None:
        profile = device_profile
    else:
        try:
            profile = builtin_profile(device_profile_name or DEFAULT_DEVICE_PROFILE)
        except KeyError as error:
            return PlaybackProblem("UNKNOWN_PROFILE", str(error.args[0]))
    files = await _playable_files(pool, item_id, visibility)
    if files is None:
        return PlaybackProblem("NOT_FOUND", "no such item")
    if file_id is not None:
        files = [row for row in files if row["id"] == file_id]
        if not files:
            return PlaybackProblem("NOT_FOUND", "no such file for this item")
    if not files:
        return PlaybackProblem("NO_PLAYABLE_FILE", "this item has no file present on disk")
    file = files[0]
    streams = await pool.fetch(
        "SELECT * FROM media_streams WHERE file_id = $1 ORDER BY stream_index", file["id"]
    )
    try:
        decision = decide(
            facts_from_rows(file, streams),
            profile,
            audio_stream=audio_stream,
            subtitle_stream=subtitle_stream,
            max_bitrate=None,
        )
    except ValueError as error:
        return PlaybackProblem("INVALID_STREAM", str(error))
    if decision.method is not PlaybackMethod.DIRECT_PLAY:
        reasons = ", ".join(reason.name for reason in decision.reasons)
        return PlaybackProblem(
            "TRANSCODING_UNAVAILABLE",
            f"{decision.method.name} is needed ({reasons}) and this server cannot serve it yet",
        )
    if signer is None:
        return PlaybackProblem("SIGNING_UNAVAILABLE", "stream URLs cannot be signed right now")
    expires = int(time.time() if now is None else now) + DEFAULT_STREAM_URL_LIFETIME_SECONDS
    async with pool.acquire() as conn, conn.transaction():
        if start_position_ms is None:
            resume = await conn.fetchval(
                "SELECT position_ms FROM user_data WHERE profile_id = $1 AND item_id = $2",
                viewer.profile_id,
                item_id,
            )
            start_position_ms = int(resume or 0)
        session_id: uuid.UUID = await conn.fetchval(
            "INSERT INTO playback_sessions "
            "(user_id, profile_id, item_id, file_id, method, position_ms) "
            "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            viewer.user_id,
            viewer.profile_id,
            item_id,
            file["id"],
            decision.method.name,
            start_position_ms,
        )
    await bus.publish(TOPIC, _event("started", viewer, session_id, item_id, start_position_ms))
    return StartedSession(
        id=session_id,
        stream_url=signer.stream_path(file["id"], str(viewer.user_id), expires),
        method=decision.method,
        reasons=decision.reasons,
        position_ms=start_position_ms,
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


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
    if session is None:
        raise NotFound("no such playback session")
    if session["user_id"] != viewer.user_id:
        raise Forbidden("this playback session belongs to someone else")
    return session


async def report_progress(
    pool: asyncpg.Pool,
    bus: EventBus,
    viewer: Viewer,
    session_id: uuid.UUID,
    position_ms: int,
    is_paused: bool | None = None,
) -> Progress:
    """A heartbeat: store the position on the session and the profile's watch state."""
    if not 0 <= position_ms <= MAX_POSITION_MS:
        raise BadUserInput("positionMs is out of range", argument="positionMs")
    events = []
    async with pool.acquire() as conn, conn.transaction():
        session = await _owned_session(conn, viewer, session_id)
        if session["stopped_at"] is not None:
            raise BadUserInput("this playback session has stopped", argument="sessionId")
        duration = session["duration_ms"]
        if duration is not None and position_ms > duration + _DURATION_SLACK_MS:
            raise BadUserInput("positionMs is past the end of the file", argument="positionMs")
        state = resume_state(position_ms, duration)
        scrobble = state.is_played and not session["is_scrobbled"]
        paused = session["is_paused"] if is_paused is None else is_paused
        await conn.execute(
            "UPDATE playback_sessions SET position_ms = $2, is_paused = $3, "
            "is_scrobbled = is_scrobbled OR $4, last_heartbeat_at = now() WHERE id = $1",
            session_id,
            position_ms,
            paused,
            state.is_played,
        )
        await conn.execute(
            "INSERT INTO user_data "
            "(user_id, profile_id, item_id, position_ms, is_played, play_count, last_played_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, now()) "
            "ON CONFLICT (profile_id, item_id) DO UPDATE SET "
            "position_ms = EXCLUDED.position_ms, "
            "is_played = user_data.is_played OR EXCLUDED.is_played, "
            "play_count = user_data.play_count + EXCLUDED.play_count, "
            "last_played_at = now()",
            session["user_id"],
            session["profile_id"],
            session["item_id"],
            state.position_ms,
            state.is_played,
            1 if scrobble else 0,
        )
        if paused != session["is_paused"]:
            events.append("paused" if paused else "resumed")
        if scrobble:
            events.append("scrobble")
    for kind in events:
        await bus.publish(TOPIC, _event(kind, viewer, session_id, session["item_id"], position_ms))
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
            "UPDATE playback_sessions SET stopped_at = now() WHERE id = $1", session_id
        )
    await bus.publish(
        TOPIC, _event("stopped", viewer, session_id, session["item_id"], session["position_ms"])
    )
    return session_id
