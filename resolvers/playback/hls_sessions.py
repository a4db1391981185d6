"""Playback sessions served as HLS: the ladder and segment plan a TRANSCODE decision gets.

A transcode (or a remux into a container only HLS offers) is planned when the session starts:
the ladder fitted to the source and the device (``media.hls.ladder``), one segment plan shared
by every variant (six-second segments; a stream-copied video cuts at its own keyframes, read
once from the file), and the encoder this deployment uses. The plan is stored with the session
(``transcode_sessions``), so any gateway replica and any worker serve it alike. The first
variant's encoder is started at once, at the resume position, so the first segment is on its
way while the player is still reading playlists.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from media.hls.encoders import EncoderChoice
from media.hls.ladder import build_ladder
from media.hls.plan import keyframe_plan, keyframe_times, uniform_plan
from media.hls.variants import SegmentPlan, Variant
from media.playback import Decision, DeviceProfile, MediaFacts
from resolvers.playback.transcodes import create_transcode, request_run

__all__ = [
    "HLS_SEGMENT_CONTAINER",
    "HlsPlan",
    "Transcoding",
    "open_transcode",
    "plan_hls",
    "prestart",
]

# What an HLS session's segments are (``media.hls.transcode`` muxes them, ``/hls`` serves them
# as ``seg_NNNNN.ts``, ``video/mp2t``), whatever HLS flavour the device profile would also take.
HLS_SEGMENT_CONTAINER = "mpegts"

# Defers a transcode job: (session id, variant name, run id).
DeferTranscode = Callable[[uuid.UUID, str, uuid.UUID], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Transcoding:
    """What a process that starts transcodes needs: the codec's encoder to record (the worker
    that runs the transcode encodes that codec with its own choice) and the job queue."""

    encoder: EncoderChoice
    defer: DeferTranscode


@dataclass(frozen=True, slots=True)
class HlsPlan:
    variants: tuple[Variant, ...]
    plan: SegmentPlan
    audio_stream: int | None
    encoder: EncoderChoice
    burn_subtitle_stream: int | None = None  # an image subtitle drawn into the video

    @property
    def uses_encoder(self) -> bool:
        return any(not variant.copy_video for variant in self.variants)


async def plan_hls(
    file: asyncpg.Record,
    facts: MediaFacts,
    profile: DeviceProfile,
    decision: Decision,
    transcoding: Transcoding,
) -> HlsPlan | str:
    """The session's ladder and plan; a message when the file can't be planned."""
    try:
        variants = build_ladder(facts, profile, decision)
    except ValueError as error:
        return str(error)
    duration_ms = file["duration_ms"]
    if not duration_ms or duration_ms <= 0:
        return "the file's duration is unknown"
    duration = duration_ms / 1000
    if any(variant.copy_video for variant in variants):
        path = os.fsdecode(bytes(file["raw_path"]))
        index = facts.video.index if facts.video is not None else None
        try:
            keyframes = await asyncio.to_thread(keyframe_times, path, index)
        except (OSError, ValueError) as error:
            return f"the file's keyframes cannot be read: {error}"
        plan = keyframe_plan(keyframes, duration)
    else:
        plan = uniform_plan(duration)
    return HlsPlan(
        variants=tuple(variants),
        plan=plan,
        audio_stream=decision.audio_stream,
        encoder=transcoding.encoder,
        burn_subtitle_stream=decision.subtitle_stream if decision.burn_in_subtitle else None,
    )


async def open_transcode(
    conn: asyncpg.Connection, session_id: uuid.UUID, file_id: uuid.UUID, hls: HlsPlan
) -> None:
    await create_transcode(
        conn,
        session_id,
        file_id,
        list(hls.variants),
        hls.plan,
        hls.audio_stream,
        (hls.encoder.name, hls.encoder.kind, dict(hls.encoder.options)),
        hls.burn_subtitle_stream,
    )


async def prestart(
    pool: asyncpg.Pool,
    transcoding: Transcoding,
    session_id: uuid.UUID,
    hls: HlsPlan,
    start_position_ms: int,
) -> None:
    """Start the first variant's encoder at the segment the player will ask for first."""
    first = hls.variants[0].name
    segment = hls.plan.segment_at(start_position_ms / 1000)
    run, is_new = await request_run(pool, session_id, first, segment, 86_400.0)
    if run is not None and is_new:
        await transcoding.defer(session_id, first, run.run_id)
