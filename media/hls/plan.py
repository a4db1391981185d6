"""Segment plans: where each HLS segment of a source starts and how long it lasts.

A transcoded variant forces a keyframe at every boundary of a ``uniform_plan``. A stream-copied
video can only be cut where the source already has a keyframe, so its plan comes from
``keyframe_times`` (a demux-only pass over the file: packet flags, no decoding) through
``keyframe_plan``. Both plans are computed before the first segment exists, so the variant
playlist is complete (VOD, seekable) from the first request.
"""

from __future__ import annotations

import math

import av
from av.stream import Stream

from media.hls.variants import SEGMENT_SECONDS, SegmentPlan

__all__ = ["MIN_TAIL_SECONDS", "keyframe_plan", "keyframe_times", "uniform_plan"]

# A last segment shorter than this joins the one before: a 0.1 s segment costs a request and
# a TS header for nothing, and some players stall on near-empty tails.
MIN_TAIL_SECONDS = 0.5
# Keyframe timestamps land a tick off their ideal value (1/1001 rates, rescaled time bases);
# a keyframe this close before a boundary still counts as "at" the boundary.
_TOLERANCE = 0.001


def uniform_plan(duration_seconds: float, segment_seconds: float = SEGMENT_SECONDS) -> SegmentPlan:
    """Equal segments of ``segment_seconds``; the last one shorter, or longer by a tail under
    ``MIN_TAIL_SECONDS`` that it absorbs."""
    if not duration_seconds > 0 or not segment_seconds > 0:
        raise ValueError("duration and segment length must be positive")
    count = max(1, math.floor(duration_seconds / segment_seconds + 1e-9))
    tail = duration_seconds - count * segment_seconds
    if tail >= MIN_TAIL_SECONDS:
        count += 1
    starts = [index * segment_seconds for index in range(count)]
    return _plan(starts, duration_seconds)


def keyframe_plan(
    keyframes: list[float], duration_seconds: float, target: float = SEGMENT_SECONDS
) -> SegmentPlan:
    """Cut at the first keyframe at least ``target`` seconds after the previous cut.

    Every segment but the last lasts at least ``target``; sparse keyframes make longer segments
    (the playlist's target duration grows to match). The first segment starts at 0 whatever
    the first keyframe says: the encoder copies from the source's first packet.
    """
    if not duration_seconds > 0 or not target > 0:
        raise ValueError("duration and target must be positive")
    starts = [0.0]
    for time in sorted(keyframes):
        if time >= duration_seconds:
            break
        if time >= starts[-1] + target - _TOLERANCE:
            starts.append(time)
    if len(starts) > 1 and duration_seconds - starts[-1] < MIN_TAIL_SECONDS:
        starts.pop()
    return _plan(starts, duration_seconds)


def keyframe_times(path: str, video_stream_index: int | None = None) -> list[float]:
    """Presentation times (seconds from the video stream's start) of the video keyframes.

    Reads packets only, so it costs about one read of the file. ``video_stream_index`` is the
    container's stream index; ``None`` picks the first video stream. Raises ``ValueError``
    when there is no such video stream.
    """
    with av.open(path) as container:
        stream: Stream
        if video_stream_index is None:
            if not container.streams.video:
                raise ValueError(f"{path}: no video stream")
            stream = container.streams.video[0]
        else:
            stream = container.streams[video_stream_index]
            if stream.type != "video":
                raise ValueError(f"{path}: stream {video_stream_index} is not video")
        time_base = stream.time_base
        if time_base is None:
            raise ValueError(f"{path}: video stream without a time base")
        origin = stream.start_time
        times: set[float] = set()
        for packet in container.demux(stream):
            if not packet.is_keyframe or packet.size == 0:
                continue
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is None:
                continue
            if origin is None:
                origin = stamp
            times.add(round(float((stamp - origin) * time_base), 6))
    return sorted(times)


def _plan(starts: list[float], duration_seconds: float) -> SegmentPlan:
    ends = [*starts[1:], duration_seconds]
    return SegmentPlan(
        starts=tuple(round(start, 6) for start in starts),
        durations=tuple(round(end - start, 6) for start, end in zip(starts, ends, strict=True)),
    )
