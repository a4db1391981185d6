"""Probing: what a media file holds (container, streams, duration), read with PyAV.

``probe_file`` opens the file and reads stream parameters without decoding the whole
thing. FFmpeg happily opens many damaged files, so a cheap structural check of the
container (Matroska segment size, MP4 box sizes, AVI RIFF size) catches files that were
cut short. ``media.probe_pool`` runs probes in worker processes with a hard per-file
timeout, because a probe can block for a long time (network shares, pathological files)
and must never run on the event loop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import av

__all__ = ["ProbeError", "ProbeResult", "StreamInfo", "probe_file"]


class ProbeError(Exception):
    """A file that cannot be probed; the message is one readable line."""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    index: int
    type: str  # "video" | "audio" | "subtitle" | "attachment" | "data"
    codec: str | None
    profile: str | None
    level: int | None
    bit_depth: int | None
    width: int | None
    height: int | None
    frame_rate: float | None
    hdr_type: str | None  # "HDR10" | "HLG" | "DOLBY_VISION" | None (SDR)
    channels: int | None
    channel_layout: str | None
    language: str | None  # ISO 639-2 as tagged; "und" becomes None
    title: str | None
    is_default: bool
    is_forced: bool
    bitrate: int | None


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Plain, picklable data: it travels back from the pool's worker processes."""

    container: str
    duration_ms: int | None
    bitrate: int | None
    streams: tuple[StreamInfo, ...]
    tags: Mapping[str, str]


# AVColorTransferCharacteristic values (libavutil/pixfmt.h).
_TRC_SMPTE2084 = 16
_TRC_ARIB_STD_B67 = 18
_DOLBY_VISION_TAGS = frozenset({"dvh1", "dvhe", "dav1", "dva1", "dvav", "dvc1"})
_LOSSLESS_AUDIO = frozenset({"flac", "alac", "wavpack", "ape", "tta", "mlp", "truehd"})
_MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"
_STILL_IMAGE_FORMATS = frozenset({"image2", "webp", "ico", "svg"})
# Formats whose stream tags describe the whole file (Vorbis comments), not a track.
_FILE_TAGS_ON_STREAM = frozenset({"ogg", "flac"})
_ATTACHED_PIC = int(av.stream.Disposition.attached_pic)
_DEFAULT = int(av.stream.Disposition.default)
_FORCED = int(av.stream.Disposition.forced)


def probe_file(path: str) -> ProbeResult:
    """Read container and stream parameters; raise ``ProbeError`` for unusable files."""
    try:
        size = os.path.getsize(path)
    except OSError as error:
        raise ProbeError(f"cannot read file: {error.strerror or error}") from None
    if size == 0:
        raise ProbeError("empty file")
    try:
        container = av.open(path, options={"probesize": "5000000", "analyzeduration": "5000000"})
    except av.error.FFmpegError as error:
        raise ProbeError(f"truncated or corrupt: {_ffmpeg_message(error)}") from None
    except OSError as error:
        raise ProbeError(f"cannot read file: {error.strerror or error}") from None
    try:
        if not isinstance(container, av.container.InputContainer):  # pragma: no cover
            raise ProbeError("not an input container")
        format_name = container.format.name
        if format_name in _STILL_IMAGE_FORMATS or format_name.endswith("_pipe"):
            raise ProbeError("not audio or video: a still image")
        problem = _structure_problem(path, format_name, size)
        if problem is not None:
            raise ProbeError(f"truncated or corrupt: {problem}")
        file_tags_on_stream = format_name in _FILE_TAGS_ON_STREAM
        streams = tuple(_stream_info(s, file_tags_on_stream) for s in container.streams)
        media = [s for s in streams if s.type in {"video", "audio"} and s.codec is not None]
        if not media:
            raise ProbeError("no audio or video streams")
        for stream in media:
            if stream.type == "video" and not (stream.width and stream.height):
                raise ProbeError("truncated or corrupt: video stream without dimensions")
        bitrate = container.bit_rate or None
        duration_ms: int | None = None
        if container.duration is not None and container.duration > 0:
            duration_ms = round(container.duration / 1000)
        elif bitrate:
            duration_ms = round(size * 8 * 1000 / bitrate)
        return ProbeResult(
            container=_container_name(format_name, path, container.metadata),
            duration_ms=duration_ms,
            bitrate=bitrate,
            streams=streams,
            tags=_format_tags(container),
        )
    finally:
        container.close()


def _ffmpeg_message(error: av.error.FFmpegError) -> str:
    text = error.strerror or str(error)
    return text[:1].lower() + text[1:] if text else "unreadable"


def _stream_info(stream: Any, file_tags_on_stream: bool) -> StreamInfo:
    context = stream.codec_context
    kind = stream.type if stream.type in {"video", "audio", "subtitle", "attachment"} else "data"
    disposition = int(stream.disposition)
    if kind == "video" and disposition & _ATTACHED_PIC:
        kind = "attachment"  # cover art travels as a one-frame video stream
    metadata = {key.lower(): value for key, value in stream.metadata.items()}
    codec = _codec_name(context)
    is_video = stream.type == "video"
    is_audio = stream.type == "audio"
    width = height = channels = bit_depth = None
    frame_rate = hdr_type = layout = None
    if is_video and context is not None:
        width = context.width or None
        height = context.height or None
        frame_rate = _frame_rate(stream)
        bit_depth = _video_bit_depth(context)
        hdr_type = _hdr_type(context)
    elif is_audio and context is not None:
        channels = context.channels or None
        layout = context.layout.name if channels else None
        if codec in _LOSSLESS_AUDIO or (codec or "").startswith("pcm_"):
            bit_depth = context.format.bits if context.format is not None else None
    language = (stream.language or metadata.get("language") or "").strip().lower()
    return StreamInfo(
        index=stream.index,
        type=kind,
        codec=codec,
        profile=_profile(context),
        level=_level(context),
        bit_depth=bit_depth,
        width=width,
        height=height,
        frame_rate=frame_rate,
        hdr_type=hdr_type,
        channels=channels,
        channel_layout=layout,
        language=None if language in {"", "und", "unk", "zxx", "mis"} else language,
        title=None if file_tags_on_stream else metadata.get("title") or None,
        is_default=bool(disposition & _DEFAULT),
        is_forced=bool(disposition & _FORCED),
        bitrate=_stream_bitrate(context, metadata),
    )


def _codec_name(context: Any) -> str | None:
    if context is None:
        return None
    try:
        codec = context.codec
    except Exception:
        return None
    if codec is None:
        return None
    name = codec.canonical_name  # the codec id's name ("subrip"), not the decoder's ("srt")
    return None if name in {None, "none", ""} else str(name)


def _profile(context: Any) -> str | None:
    try:
        profile = context.profile if context is not None else None
    except Exception:
        return None
    return str(profile) if profile else None


def _level(context: Any) -> int | None:
    level = getattr(context, "level", None)
    return int(level) if isinstance(level, int) and level > 0 else None


def _frame_rate(stream: Any) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return round(float(rate), 3)
    return None


def _video_bit_depth(context: Any) -> int | None:
    video_format = context.format
    if video_format is None or not video_format.components:
        return None
    return int(video_format.components[0].bits) or None


def _hdr_type(context: Any) -> str | None:
    tag = context.codec_tag
    if isinstance(tag, str) and tag.strip("\x00").lower() in _DOLBY_VISION_TAGS:
        return "DOLBY_VISION"
    trc = context.color_trc
    if trc == _TRC_SMPTE2084:
        return "HDR10"
    if trc == _TRC_ARIB_STD_B67:
        return "HLG"
    return None


def _stream_bitrate(context: Any, metadata: Mapping[str, str]) -> int | None:
    rate = getattr(context, "bit_rate", None)
    if rate:
        return int(rate)
    # mkvmerge writes statistics tags ("BPS", or "BPS-eng" from older versions).
    for key in ("bps", "bps-eng"):
        value = metadata.get(key, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def _format_tags(container: Any) -> dict[str, str]:
    tags = {key.lower(): str(value) for key, value in container.metadata.items()}
    if not tags and container.format.name == "ogg" and container.streams.audio:
        # Ogg keeps its Vorbis comments on the stream; they describe the whole file.
        audio = container.streams.audio[0]
        tags = {key.lower(): str(value) for key, value in audio.metadata.items()}
    return tags


def _container_name(format_name: str, path: str, tags: Mapping[str, str]) -> str:
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    if format_name == "matroska,webm":
        return "webm" if extension == "webm" else "mkv"
    if format_name == _MP4_FAMILY:
        brand = str(tags.get("major_brand", "")).strip().lower()
        if extension in {"mov", "qt"} or brand == "qt":
            return "mov"
        if extension in {"m4a", "m4b"} or brand in {"m4a", "m4b"}:
            return "m4a"
        if extension in {"3gp", "3g2"} or brand.startswith("3g"):
            return "3gp"
        return "mp4"
    if format_name == "asf":
        return "wmv" if extension == "wmv" else "asf"
    return format_name.split(",")[0]


# -- structural checks: did the file end before its container says it does? -----------


def _structure_problem(path: str, format_name: str, size: int) -> str | None:
    try:
        with open(path, "rb") as handle:
            if format_name == "matroska,webm":
                return _matroska_problem(handle, size)
            if format_name == _MP4_FAMILY:
                return _mp4_problem(handle, size)
            if format_name == "avi":
                return _riff_problem(handle, size)
    except OSError as error:
        return f"read error: {error.strerror or error}"
    return None


def _read_vint(data: bytes, offset: int) -> tuple[int, int, bool] | None:
    """An EBML variable-length integer: (value, length, is_unknown_size)."""
    if offset >= len(data) or data[offset] == 0:
        return None
    first = data[offset]
    length = 8 - first.bit_length() + 1
    if offset + length > len(data):
        return None
    value = first & (0xFF >> length)
    for byte in data[offset + 1 : offset + length]:
        value = (value << 8) | byte
    return value, length, value == (1 << (7 * length)) - 1


def _matroska_problem(handle: BinaryIO, size: int) -> str | None:
    head = handle.read(4096)
    if head[:4] != b"\x1a\x45\xdf\xa3":
        return None
    header_size = _read_vint(head, 4)
    if header_size is None:
        return "damaged EBML header"
    offset = 4 + header_size[1] + header_size[0]
    if head[offset : offset + 4] != b"\x18\x53\x80\x67":
        return None
    segment_size = _read_vint(head, offset + 4)
    if segment_size is None:
        return "damaged segment header"
    value, length, unknown = segment_size
    end = offset + 4 + length + value
    if not unknown and end > size:
        return f"file ends at byte {size} of {end}"
    return None


def _mp4_problem(handle: BinaryIO, size: int) -> str | None:
    offset = 0
    for _ in range(100_000):
        if offset >= size:
            return None
        handle.seek(offset)
        header = handle.read(16)
        if len(header) < 8:
            return f"file ends inside a box header at byte {offset}"
        box_size = int.from_bytes(header[:4], "big")
        box_type = header[4:8]
        if not all(32 <= byte < 127 for byte in box_type):
            return None  # trailing junk; FFmpeg already found what it needed
        if box_size == 1:
            if len(header) < 16:
                return f"file ends inside a box header at byte {offset}"
            box_size = int.from_bytes(header[8:16], "big")
        elif box_size == 0:
            return None  # box runs to the end of the file
        if box_size < 8:
            return f"invalid {box_type.decode()} box at byte {offset}"
        if offset + box_size > size:
            return f"{box_type.decode()} box ends at byte {offset + box_size}, file at {size}"
        offset += box_size
    return None


def _riff_problem(handle: BinaryIO, size: int) -> str | None:
    header = handle.read(12)
    if header[:4] != b"RIFF":
        return None
    end = 8 + int.from_bytes(header[4:8], "little")
    if end > size:
        return f"file ends at byte {size} of {end}"
    return None
