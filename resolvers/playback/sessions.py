"""Playback sessions: start one (the decision, a signed URL, limits and device replacement).

A session belongs to the profile that started it (``Viewer.owns``): for anyone else, another
profile of the same account included, it does not exist. Progress lands on the session and on
the profile's ``user_data`` under the resume rules, and the moments other parts care about are
published on the bus (topic ``playback``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from infra.authz.service import VisibilityFilter
from infra.bus import EventBus
from infra.errors import BadUserInput
from infra.signing import DEFAULT_STREAM_URL_LIFETIME_SECONDS, StreamSigner
from loaders.visibility import visibility_conditions
from media.hls.variants import Variant
from media.playback import (
    Decision,
    DeviceProfile,
    MediaFacts,
    PlaybackMethod,
    Reason,
    builtin_profile,
    decide,
    facts_from_rows,
)
from media.remux import mp4_copy_problem
from media.subtitles import is_text_subtitle
from resolvers.catalog.subtitle_files import subtitle_path
from resolvers.catalog.trickplay import trickplay_info
from resolvers.playback.devices import check_device_id, stored_profile
from resolvers.playback.hls_sessions import (
    HLS_SEGMENT_CONTAINER,
    HlsPlan,
    Transcoding,
    open_transcode,
    plan_hls,
    prestart,
)
from resolvers.playback.leases import (
    StreamLimits,
    limit_problem,
    lock_user_sessions,
    publish_playback,
    publish_stopped,
    replace_device_sessions,
)
from resolvers.playback.resume import MAX_POSITION_MS

__all__ = [
    "DEFAULT_DEVICE_PROFILE",
    "PlaybackProblem",
    "StartedSession",
    "Viewer",
    "start_playback",
]

TOPIC = "playback"
DEFAULT_DEVICE_PROFILE = "chromium"


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: uuid.UUID
    profile_id: uuid.UUID

    def owns(self, session: Any) -> bool:
        """Whether a session (a row or record with ``user_id`` and ``profile_id``) is this
        viewer's: started by this profile. Another profile of the same account (a kids profile
        beside its parent) is someone else."""
        return bool(session["user_id"] == self.user_id and session["profile_id"] == self.profile_id)


@dataclass(frozen=True, slots=True)
class SubtitleTrack:
    """A subtitle stream of the played file, as the session offers it."""

    index: int
    codec: str | None
    language: str | None
    title: str | None
    is_default: bool
    is_forced: bool
    is_hearing_impaired: bool
    is_external: bool
    is_text: bool
    webvtt_url: str | None  # text tracks, converted on request
    url: str | None  # external files, as they are


@dataclass(frozen=True, slots=True)
class StartedSession:
    id: uuid.UUID
    file_id: uuid.UUID
    stream_url: str
    method: PlaybackMethod
    reasons: tuple[Reason, ...]
    position_ms: int
    expires_at: datetime
    decision: Decision
    subtitles: tuple[SubtitleTrack, ...] = ()
    heartbeat_interval_ms: int = StreamLimits().heartbeat_interval_ms
    replaced_session_ids: tuple[uuid.UUID, ...] = ()
    encoder: str | None = None  # the video encoder of a transcode ("libx264", "h264_nvenc")
    trickplay_url: str | None = None  # the file's seek thumbnails (WebVTT index), when made
    variants: tuple[Variant, ...] = ()  # an HLS session's ladder, best first

    @property
    def target_container(self) -> str | None:
        """The container the client receives: an HLS session's segments, else the decision's
        (the file's own for direct play, mp4 for a remux)."""
        if self.variants:
            return HLS_SEGMENT_CONTAINER
        return self.decision.target_container


class _Refused(Exception):
    """A stream limit refused the session; raised to roll the start back."""


@dataclass(frozen=True, slots=True)
class PlaybackProblem:
    """An expected failure: ``code`` is a ``PlaybackErrorCode`` name."""

    code: str
    message: str


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
        "SELECT i.runtime_ms AS item_runtime_ms, i.library_id AS item_library_id, f.* "
        "FROM media_items AS i "
        "LEFT JOIN media_files AS f ON f.item_id = i.id AND NOT f.is_missing "
        "WHERE " + " AND ".join(conditions) + " "
        "ORDER BY f.part_number NULLS FIRST, f.version_name NULLS FIRST, f.path, f.id",
        *params,
    )
    if not rows:
        return None
    return [row for row in rows if row["id"] is not None]


async def _choose_profile(
    pool: asyncpg.Pool,
    viewer: Viewer,
    device_id: str | None,
    device_profile_name: str | None,
    device_profile: DeviceProfile | None,
) -> DeviceProfile | PlaybackProblem:
    """The client's own profile, else the named built-in, else the one stored for the device,
    else the default."""
    if device_profile is not None:
        return device_profile
    if device_profile_name is None and device_id is not None:
        stored = await stored_profile(pool, viewer.user_id, device_id)
        if stored is not None:
            return stored
    try:
        return builtin_profile(device_profile_name or DEFAULT_DEVICE_PROFILE)
    except KeyError as error:
        return PlaybackProblem("UNKNOWN_PROFILE", str(error.args[0]))


def _delivery(
    signer: StreamSigner,
    viewer: Viewer,
    file: asyncpg.Record,
    facts: MediaFacts,
    decision: Decision,
    expires: int,
    start_position_ms: int,
) -> str | None:
    """Where the client fetches the bytes when no encoder is involved: the file itself, or its
    remux into fragmented MP4 (``/remux/{fileId}``, a non-seekable stream that starts at the
    resume position). None: the session is served as HLS."""
    if decision.method is PlaybackMethod.DIRECT_PLAY:
        return signer.stream_path(file["id"], str(viewer.user_id), expires)
    if decision.method is not PlaybackMethod.REMUX or decision.target_container != "mp4":
        return None
    audio = next((a for a in facts.audio if a.index == decision.audio_stream), None)
    copy_problem = mp4_copy_problem(
        facts.video.codec if facts.video is not None else None,
        audio.codec if audio is not None else None,
    )
    if copy_problem is not None:
        return None
    return signer.remux_path(
        file["id"],
        str(viewer.user_id),
        expires,
        audio_stream_index=decision.audio_stream,
        start_ms=start_position_ms or None,
    )


async def start_playback(
    pool: asyncpg.Pool,
    bus: EventBus,
    viewer: Viewer,
    visibility: VisibilityFilter,
    item_id: uuid.UUID,
    *,
    signer: StreamSigner | None,
    limits: StreamLimits = StreamLimits(),
    device_id: str | None = None,
    file_id: uuid.UUID | None = None,
    device_profile_name: str | None = None,
    device_profile: DeviceProfile | None = None,
    audio_stream: int | None = None,
    subtitle_stream: int | None = None,
    start_position_ms: int | None = None,
    transcoding: Transcoding | None = None,
    entitled: Callable[[uuid.UUID], Awaitable[bool]] | None = None,
    now: float | None = None,
) -> StartedSession | PlaybackProblem:
    """Decide how the caller's device plays the item and open a session for it.

    A session started with a ``device_id`` replaces that device's live session; the stream
    limits count live sessions under a valid lease (see ``resolvers.playback.leases``).
    ``entitled(library_id)`` is the entitlement policy's answer for the item's library (billing);
    a visible item the caller is not entitled to play is ``NOT_ENTITLED``."""
    if start_position_ms is not None and not 0 <= start_position_ms <= MAX_POSITION_MS:
        raise BadUserInput("startPositionMs is out of range", argument="startPositionMs")
    if device_id is not None:
        device_id = check_device_id(device_id)
    profile = await _choose_profile(pool, viewer, device_id, device_profile_name, device_profile)
    if isinstance(profile, PlaybackProblem):
        return profile
    files = await _playable_files(pool, item_id, visibility)
    if files is None:
        return PlaybackProblem("NOT_FOUND", "no such item")
    if entitled is not None and files and not await entitled(files[0]["item_library_id"]):
        return PlaybackProblem("NOT_ENTITLED", "this account may not play this item")
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
    facts = facts_from_rows(file, streams)
    try:
        decision = decide(
            facts,
            profile,
            audio_stream=audio_stream,
            subtitle_stream=subtitle_stream,
            max_bitrate=None,
        )
    except ValueError as error:
        return PlaybackProblem("INVALID_STREAM", str(error))
    if signer is None:
        return PlaybackProblem("SIGNING_UNAVAILABLE", "stream URLs cannot be signed right now")
    expires = int(time.time() if now is None else now) + DEFAULT_STREAM_URL_LIFETIME_SECONDS
    if start_position_ms is None:
        resume = await pool.fetchval(
            "SELECT position_ms FROM user_data WHERE profile_id = $1 AND item_id = $2",
            viewer.profile_id,
            item_id,
        )
        start_position_ms = int(resume or 0)
    stream_path = _delivery(signer, viewer, file, facts, decision, expires, start_position_ms)
    hls: HlsPlan | None = None
    if stream_path is None:
        reasons = ", ".join(reason.name for reason in decision.reasons) or "none"
        if transcoding is None:
            return PlaybackProblem(
                "TRANSCODING_UNAVAILABLE",
                f"{decision.method.name} is needed ({reasons}) and no transcoder runs here",
            )
        planned = await plan_hls(file, facts, profile, decision, transcoding)
        if isinstance(planned, str):
            return PlaybackProblem("TRANSCODING_UNAVAILABLE", planned)
        hls = planned
    row = _NewSession(
        item_id=item_id,
        file_id=file["id"],
        method=decision.method.name,
        position_ms=start_position_ms,
        device_id=device_id,
        device_profile_name=profile.name,
        audio_stream=decision.audio_stream,
        subtitle_stream=decision.subtitle_stream,
    )
    try:
        session_id, replaced = await _open_session(pool, viewer, row, limits, hls)
    except _Refused as refused:
        return PlaybackProblem("STREAM_LIMIT_REACHED", str(refused))
    if hls is not None:
        assert transcoding is not None
        stream_path = signer.hls_path(session_id, str(viewer.user_id), expires)
        if hls.uses_encoder or len(hls.variants) == 1:
            await prestart(pool, transcoding, session_id, hls, start_position_ms)
    assert stream_path is not None
    trickplay = await trickplay_info(pool, file["id"])
    await publish_stopped(bus, TOPIC, replaced, "replaced")
    await publish_playback(
        bus, TOPIC, _event("started", viewer, session_id, item_id, start_position_ms)
    )
    return StartedSession(
        id=session_id,
        file_id=file["id"],
        stream_url=stream_path,
        method=decision.method,
        reasons=decision.reasons,
        position_ms=start_position_ms,
        expires_at=datetime.fromtimestamp(expires, UTC),
        decision=decision,
        subtitles=tuple(_subtitle_tracks(streams, signer, file["id"], viewer.user_id, expires)),
        heartbeat_interval_ms=limits.heartbeat_interval_ms,
        replaced_session_ids=tuple(row["id"] for row in replaced),
        encoder=hls.encoder.name if hls is not None and hls.uses_encoder else None,
        trickplay_url=(
            f"/trickplay/{file['id']}/index.vtt?"
            + signer.sign_stream(file["id"], str(viewer.user_id), expires)
            if trickplay is not None
            else None
        ),
        variants=hls.variants if hls is not None else (),
    )


@dataclass(frozen=True, slots=True)
class _NewSession:
    item_id: uuid.UUID
    file_id: uuid.UUID
    method: str
    position_ms: int
    device_id: str | None
    device_profile_name: str
    audio_stream: int | None
    subtitle_stream: int | None


async def _open_session(
    pool: asyncpg.Pool,
    viewer: Viewer,
    new: _NewSession,
    limits: StreamLimits,
    hls: HlsPlan | None = None,
) -> tuple[uuid.UUID, list[asyncpg.Record]]:
    """One transaction: the device's older session ends, the limits are checked, the row is
    written; ``_Refused`` rolls all of it back."""
    async with pool.acquire() as conn, conn.transaction():
        await lock_user_sessions(conn, viewer.user_id)
        replaced: list[asyncpg.Record] = []
        if new.device_id is not None:
            replaced = await replace_device_sessions(conn, viewer.user_id, new.device_id)
        refused = await limit_problem(conn, viewer.user_id, viewer.profile_id, limits)
        if refused is not None:
            raise _Refused(refused)  # a replaced session plays on
        session_id: uuid.UUID = await conn.fetchval(
            "INSERT INTO playback_sessions (user_id, profile_id, item_id, file_id, method, "
            "position_ms, device_id, device_profile_name, audio_stream, subtitle_stream) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            viewer.user_id,
            viewer.profile_id,
            new.item_id,
            new.file_id,
            new.method,
            new.position_ms,
            new.device_id,
            new.device_profile_name,
            new.audio_stream,
            new.subtitle_stream,
        )
        if hls is not None:
            await open_transcode(conn, session_id, new.file_id, hls)
    return session_id, replaced


def _subtitle_tracks(
    streams: list[asyncpg.Record],
    signer: StreamSigner,
    file_id: uuid.UUID,
    user_id: uuid.UUID,
    expires: int,
) -> list[SubtitleTrack]:
    """The file's subtitle streams with signed URLs (``/subtitles/{file}/{index}[.vtt]``)."""
    tracks = []
    for row in streams:
        if row["type"] != "subtitle":
            continue
        index = row["stream_index"]
        is_text = is_text_subtitle(row["codec"])
        tracks.append(
            SubtitleTrack(
                index=index,
                codec=row["codec"],
                language=row["language"],
                title=row["title"],
                is_default=row["is_default"],
                is_forced=row["is_forced"],
                is_hearing_impaired=row["is_hearing_impaired"],
                is_external=row["is_external"],
                is_text=is_text,
                webvtt_url=(
                    subtitle_path(signer, file_id, index, str(user_id), expires, webvtt=True)
                    if is_text
                    else None
                ),
                url=(
                    subtitle_path(signer, file_id, index, str(user_id), expires, webvtt=False)
                    if row["is_external"]
                    else None
                ),
            )
        )
    return tracks
