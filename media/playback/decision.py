"""The playback decision: direct play, remux or transcode, and why.

``decide`` compares what the catalog knows about a file (``MediaFacts``) with a device profile.
Direct play when every selected stream and the container fit; remux (stream copy into another
container) when only the container is the problem; transcode when a stream does not fit, saying
which. The reasons list every mismatch found, so a client can explain the choice. Pure and
allocation-light: it runs for every ``startPlayback`` and takes a few microseconds.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from media.playback.profiles import (
    DeviceProfile,
    normalize_codec,
    normalize_container,
    normalize_subtitle_format,
)
from media.probe import ProbeResult

__all__ = [
    "AudioFacts",
    "Decision",
    "MediaFacts",
    "PlaybackMethod",
    "Reason",
    "SubtitleDelivery",
    "SubtitleFacts",
    "VideoFacts",
    "decide",
    "facts_from_probe",
    "facts_from_rows",
]


class PlaybackMethod(enum.Enum):
    DIRECT_PLAY = "DIRECT_PLAY"
    REMUX = "REMUX"
    TRANSCODE = "TRANSCODE"


class Reason(enum.Enum):
    CONTAINER_UNSUPPORTED = "CONTAINER_UNSUPPORTED"
    VIDEO_CODEC_UNSUPPORTED = "VIDEO_CODEC_UNSUPPORTED"
    VIDEO_PROFILE_UNSUPPORTED = "VIDEO_PROFILE_UNSUPPORTED"
    VIDEO_LEVEL_TOO_HIGH = "VIDEO_LEVEL_TOO_HIGH"
    VIDEO_BIT_DEPTH_UNSUPPORTED = "VIDEO_BIT_DEPTH_UNSUPPORTED"
    HDR_UNSUPPORTED = "HDR_UNSUPPORTED"
    VIDEO_RESOLUTION_TOO_HIGH = "VIDEO_RESOLUTION_TOO_HIGH"
    VIDEO_FRAME_RATE_TOO_HIGH = "VIDEO_FRAME_RATE_TOO_HIGH"
    AUDIO_CODEC_UNSUPPORTED = "AUDIO_CODEC_UNSUPPORTED"
    AUDIO_CHANNELS_TOO_MANY = "AUDIO_CHANNELS_TOO_MANY"
    BITRATE_TOO_HIGH = "BITRATE_TOO_HIGH"
    SUBTITLE_NEEDS_BURN_IN = "SUBTITLE_NEEDS_BURN_IN"
    SUBTITLE_FORMAT_UNSUPPORTED = "SUBTITLE_FORMAT_UNSUPPORTED"


class SubtitleDelivery(enum.Enum):
    NONE = "NONE"  # no subtitle selected
    ORIGINAL = "ORIGINAL"  # the client renders the track as it is
    CONVERT_TO_WEBVTT = "CONVERT_TO_WEBVTT"  # text the client cannot read, served as WebVTT
    BURN_IN = "BURN_IN"  # drawn into the video: forces a video transcode


@dataclass(frozen=True, slots=True)
class VideoFacts:
    index: int
    codec: str | None
    profile: str | None = None
    level: int | None = None  # as FFmpeg reports it (H.264 41 = 4.1, HEVC 153 = 5.1)
    bit_depth: int | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    hdr_type: str | None = None
    bitrate: int | None = None


@dataclass(frozen=True, slots=True)
class AudioFacts:
    index: int
    codec: str | None
    channels: int | None = None
    bitrate: int | None = None
    language: str | None = None
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class SubtitleFacts:
    index: int
    codec: str | None
    is_external: bool = False
    language: str | None = None
    is_forced: bool = False
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class MediaFacts:
    """What the decision needs to know about one file; built from a probe or catalog rows."""

    container: str | None
    bitrate: int | None
    video: VideoFacts | None
    audio: tuple[AudioFacts, ...] = ()
    subtitles: tuple[SubtitleFacts, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    method: PlaybackMethod
    reasons: tuple[Reason, ...]
    transcode_video: bool
    transcode_audio: bool
    burn_in_subtitle: bool
    target_container: str | None  # the container the client receives (HLS segments: mp4/mpegts)
    is_hls: bool  # a transcode is served as HLS when the client plays it
    audio_stream: int | None  # the audio stream actually played
    subtitle_stream: int | None
    subtitle_delivery: SubtitleDelivery


_TEXT_SUBTITLES = frozenset({"subrip", "ass", "webvtt", "mov_text", "ttml", "microdvd", "sami"})
# FFmpeg level numbers per codec → the codec's decimal level.
_LEVEL_SCALE = {"h264": 10.0, "hevc": 30.0, "vp9": 10.0}
_REMUX_ORDER = ("mp4", "mpegts", "mkv")
_WEBM_VIDEO = frozenset({"vp8", "vp9", "av1"})
_WEBM_AUDIO = frozenset({"opus", "vorbis"})


def decide(
    file: MediaFacts,
    profile: DeviceProfile,
    *,
    audio_stream: int | None,
    subtitle_stream: int | None,
    max_bitrate: int | None,
) -> Decision:
    """Decide how ``profile`` should receive ``file``.

    ``audio_stream`` / ``subtitle_stream`` are stream indexes (``None``: the default audio
    stream, no subtitle); ``max_bitrate`` is the client's current cap on top of the profile's.
    Raises ``ValueError`` for a stream index that is not an audio/subtitle stream of the file.
    """
    reasons: list[Reason] = []
    container = normalize_container(file.container) if file.container else None
    container_ok = container is not None and container in profile.containers
    if not container_ok:
        reasons.append(Reason.CONTAINER_UNSUPPORTED)

    video = file.video
    transcode_video = video is not None and _video_misfits(video, profile, reasons)
    audio = _select_audio(file.audio, audio_stream)
    transcode_audio = audio is not None and _audio_misfits(audio, profile, reasons)

    cap = _lower(profile.max_bitrate, max_bitrate)
    bitrate = file.bitrate or _stream_bitrate(file)
    if cap is not None and bitrate is not None and bitrate > cap:
        reasons.append(Reason.BITRATE_TOO_HIGH)
        if video is not None:
            transcode_video = True
        else:
            transcode_audio = True

    subtitle = _select_subtitle(file.subtitles, subtitle_stream)
    delivery = SubtitleDelivery.NONE
    if subtitle is not None:
        delivery = _subtitle_delivery(subtitle, profile, reasons)
        if delivery is SubtitleDelivery.BURN_IN and video is not None:
            transcode_video = True

    is_hls = False
    if transcode_video or transcode_audio:
        method = PlaybackMethod.TRANSCODE
        target, is_hls = _transcode_target(profile)
    elif not container_ok:
        method = PlaybackMethod.REMUX
        target = _remux_target(profile, video, audio)
    else:
        method = PlaybackMethod.DIRECT_PLAY
        target = container
    return Decision(
        method=method,
        reasons=tuple(reasons),
        transcode_video=transcode_video,
        transcode_audio=transcode_audio,
        burn_in_subtitle=delivery is SubtitleDelivery.BURN_IN and video is not None,
        target_container=target,
        is_hls=is_hls,
        audio_stream=audio.index if audio is not None else None,
        subtitle_stream=subtitle.index if subtitle is not None else None,
        subtitle_delivery=delivery,
    )


def _video_misfits(video: VideoFacts, profile: DeviceProfile, reasons: list[Reason]) -> bool:
    codec = normalize_codec(video.codec) if video.codec else ""
    limits = profile.video_limits(codec)
    hdr = video.hdr_type
    if limits is None:
        reasons.append(Reason.VIDEO_CODEC_UNSUPPORTED)
        if hdr is not None and hdr not in profile.displayable_hdr_types:
            reasons.append(Reason.HDR_UNSUPPORTED)  # the transcode must tone-map too
        return True
    start = len(reasons)
    if limits.profiles is not None and (
        video.profile is None or video.profile.lower() not in limits.profiles
    ):
        reasons.append(Reason.VIDEO_PROFILE_UNSUPPORTED)
    if limits.max_level is not None and video.level is not None:
        scale = _LEVEL_SCALE.get(codec)
        level = _av1_level(video.level) if codec == "av1" else None
        if scale is not None:
            level = round(video.level / scale, 1)
        if level is not None and level > limits.max_level:
            reasons.append(Reason.VIDEO_LEVEL_TOO_HIGH)
    if (
        limits.max_bit_depth is not None
        and video.bit_depth is not None
        and video.bit_depth > limits.max_bit_depth
    ):
        reasons.append(Reason.VIDEO_BIT_DEPTH_UNSUPPORTED)
    if hdr is not None and hdr not in limits.hdr_types:
        reasons.append(Reason.HDR_UNSUPPORTED)
    if (limits.max_width is not None and (video.width or 0) > limits.max_width) or (
        limits.max_height is not None and (video.height or 0) > limits.max_height
    ):
        reasons.append(Reason.VIDEO_RESOLUTION_TOO_HIGH)
    if limits.max_frame_rate is not None and (video.frame_rate or 0.0) > limits.max_frame_rate:
        reasons.append(Reason.VIDEO_FRAME_RATE_TOO_HIGH)
    return len(reasons) > start


def _av1_level(seq_level_idx: int) -> float:
    # AV1 seq_level_idx: level X.Y = (X - 2) * 4 + Y.
    return 2 + seq_level_idx // 4 + (seq_level_idx % 4) / 10


def _audio_misfits(audio: AudioFacts, profile: DeviceProfile, reasons: list[Reason]) -> bool:
    limits = profile.audio_limits(normalize_codec(audio.codec) if audio.codec else "")
    if limits is None:
        reasons.append(Reason.AUDIO_CODEC_UNSUPPORTED)
        return True
    if limits.max_channels is not None and (audio.channels or 0) > limits.max_channels:
        reasons.append(Reason.AUDIO_CHANNELS_TOO_MANY)
        return True
    return False


def _subtitle_delivery(
    subtitle: SubtitleFacts, profile: DeviceProfile, reasons: list[Reason]
) -> SubtitleDelivery:
    name = normalize_subtitle_format(subtitle.codec) if subtitle.codec else ""
    if name in profile.text_subtitles or name in profile.image_subtitles:
        return SubtitleDelivery.ORIGINAL
    if name in _TEXT_SUBTITLES and "webvtt" in profile.text_subtitles:
        reasons.append(Reason.SUBTITLE_FORMAT_UNSUPPORTED)
        return SubtitleDelivery.CONVERT_TO_WEBVTT
    if name in _TEXT_SUBTITLES:
        reasons.append(Reason.SUBTITLE_FORMAT_UNSUPPORTED)
    reasons.append(Reason.SUBTITLE_NEEDS_BURN_IN)
    return SubtitleDelivery.BURN_IN


def _select_audio(streams: tuple[AudioFacts, ...], index: int | None) -> AudioFacts | None:
    if index is None:
        for stream in streams:
            if stream.is_default:
                return stream
        return streams[0] if streams else None
    for stream in streams:
        if stream.index == index:
            return stream
    raise ValueError(f"audio_stream {index} is not an audio stream of this file")


def _select_subtitle(streams: tuple[SubtitleFacts, ...], index: int | None) -> SubtitleFacts | None:
    if index is None:
        return None
    for stream in streams:
        if stream.index == index:
            return stream
    raise ValueError(f"subtitle_stream {index} is not a subtitle stream of this file")


def _lower(first: int | None, second: int | None) -> int | None:
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)


def _stream_bitrate(file: MediaFacts) -> int | None:
    rates = [file.video.bitrate] if file.video is not None else []
    rates.extend(a.bitrate for a in file.audio)
    known = [rate for rate in rates if rate]
    return sum(known) if known and len(known) == len(rates) else None


def _transcode_target(profile: DeviceProfile) -> tuple[str | None, bool]:
    if profile.hls_fmp4:
        return "mp4", True
    if profile.hls_mpegts:
        return "mpegts", True
    # A client without HLS gets one progressive, unseekable stream: MPEG-TS suits that best.
    for name in ("mpegts", "mp4", "mkv"):
        if name in profile.containers:
            return name, False
    return min(profile.containers, default=None), False


def _remux_target(
    profile: DeviceProfile, video: VideoFacts | None, audio: AudioFacts | None
) -> str | None:
    for name in _REMUX_ORDER:
        if name in profile.containers:
            return name
    video_codec = normalize_codec(video.codec) if video and video.codec else None
    audio_codec = normalize_codec(audio.codec) if audio and audio.codec else None
    if (
        "webm" in profile.containers
        and (video_codec is None or video_codec in _WEBM_VIDEO)
        and (audio_codec is None or audio_codec in _WEBM_AUDIO)
    ):
        return "webm"
    return min(profile.containers, default=None)


# -- building facts ------------------------------------------------------------------------


def facts_from_probe(result: ProbeResult) -> MediaFacts:
    """Facts of a freshly probed file (``media.probe.probe_file``); no external subtitles."""
    video: VideoFacts | None = None
    audio: list[AudioFacts] = []
    subtitles: list[SubtitleFacts] = []
    for stream in result.streams:
        if stream.type == "video" and video is None:
            video = VideoFacts(
                index=stream.index,
                codec=stream.codec,
                profile=stream.profile,
                level=stream.level,
                bit_depth=stream.bit_depth,
                width=stream.width,
                height=stream.height,
                frame_rate=stream.frame_rate,
                hdr_type=stream.hdr_type,
                bitrate=stream.bitrate,
            )
        elif stream.type == "audio":
            audio.append(
                AudioFacts(
                    index=stream.index,
                    codec=stream.codec,
                    channels=stream.channels,
                    bitrate=stream.bitrate,
                    language=stream.language,
                    is_default=stream.is_default,
                )
            )
        elif stream.type == "subtitle":
            subtitles.append(
                SubtitleFacts(
                    index=stream.index,
                    codec=stream.codec,
                    language=stream.language,
                    is_forced=stream.is_forced,
                    is_default=stream.is_default,
                )
            )
    return MediaFacts(
        container=result.container,
        bitrate=result.bitrate,
        video=video,
        audio=tuple(audio),
        subtitles=tuple(subtitles),
    )


def facts_from_rows(
    file_row: Mapping[str, Any], stream_rows: Iterable[Mapping[str, Any]]
) -> MediaFacts:
    """Facts from catalog rows (``media_files`` and its ``media_streams``), e.g. asyncpg Records.

    Streams are taken in ``stream_index`` order; the first video stream is the one played.
    """
    video: VideoFacts | None = None
    audio: list[AudioFacts] = []
    subtitles: list[SubtitleFacts] = []
    for row in sorted(stream_rows, key=lambda r: int(r["stream_index"])):
        kind = row["type"]
        if kind == "video" and video is None:
            video = VideoFacts(
                index=row["stream_index"],
                codec=row.get("codec"),
                profile=row.get("profile"),
                level=row.get("level"),
                bit_depth=row.get("bit_depth"),
                width=row.get("width"),
                height=row.get("height"),
                frame_rate=row.get("frame_rate"),
                hdr_type=row.get("hdr_type"),
                bitrate=row.get("bitrate"),
            )
        elif kind == "audio":
            audio.append(
                AudioFacts(
                    index=row["stream_index"],
                    codec=row.get("codec"),
                    channels=row.get("channels"),
                    bitrate=row.get("bitrate"),
                    language=row.get("language"),
                    is_default=bool(row.get("is_default", False)),
                )
            )
        elif kind == "subtitle":
            subtitles.append(
                SubtitleFacts(
                    index=row["stream_index"],
                    codec=row.get("codec"),
                    is_external=bool(row.get("is_external", False)),
                    language=row.get("language"),
                    is_forced=bool(row.get("is_forced", False)),
                    is_default=bool(row.get("is_default", False)),
                )
            )
    return MediaFacts(
        container=file_row.get("container"),
        bitrate=file_row.get("bitrate"),
        video=video,
        audio=tuple(audio),
        subtitles=tuple(subtitles),
    )
