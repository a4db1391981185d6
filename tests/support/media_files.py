"""Small, real media files generated with PyAV, for tests and benchmarks.

Every fixture in the project comes from here: nothing is downloaded or committed. The
generators favour speed (ultrafast/realtime encoder settings, tiny frames, a moving
gradient that encoders compress to almost nothing) because a benchmark makes thousands.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import mutagen
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame
from PIL import Image

__all__ = [
    "add_dvd_subtitle",
    "make_audio",
    "make_image",
    "make_text",
    "make_truncated",
    "make_video",
    "make_zero_byte",
]

StrPath = str | os.PathLike[str]

_VIDEO_ENCODERS: dict[str, tuple[str, dict[str, str]]] = {
    "h264": ("libx264", {"preset": "ultrafast", "tune": "zerolatency"}),
    "hevc": ("libx265", {"preset": "ultrafast", "x265-params": "log-level=none"}),
    "mpeg4": ("mpeg4", {}),
    "vp9": ("libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}),
}

_AUDIO_ENCODERS: dict[str, tuple[str, dict[str, str]]] = {
    "aac": ("aac", {}),
    "mp3": ("libmp3lame", {"compression_level": "9"}),
    "ac3": ("ac3", {}),
    "opus": ("libopus", {}),
    "flac": ("flac", {}),
    # FFmpeg's own Vorbis encoder is flagged experimental; PyAV 18 ships no libvorbis.
    "vorbis": ("vorbis", {"strict": "experimental"}),
}

_CONTAINER_FORMATS = {
    ".mkv": "matroska",
    ".webm": "webm",
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".avi": "avi",
    ".ts": "mpegts",
    ".m2ts": "mpegts",
}

_AUDIO_FILE_FORMATS = {
    ".mp3": ("mp3", "mp3"),
    ".flac": ("flac", "flac"),
    ".m4a": ("ipod", "aac"),
    ".ogg": ("ogg", "vorbis"),
    ".oga": ("ogg", "vorbis"),
    ".opus": ("opus", "opus"),
}

# AVColorTransferCharacteristic values (libavutil/pixfmt.h).
_COLOR_TRC = {"bt709": 1, "smpte2084": 16, "arib-std-b67": 18}
_BT2020_PRIMARIES = 9
_BT2020_NCL = 9

_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}

_ASS_HEADER = b"""[Script Info]
ScriptType: v4.00+
PlayResX: 384
PlayResY: 288

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, \
Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, \
Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
"""


@lru_cache(maxsize=32)
def _gradient(size: int) -> bytes:
    """A byte ramp long enough to slice one shifted luma plane per frame from."""
    return bytes(range(256)) * (size // 256 + 1)


def _fill_video_frame(frame: VideoFrame, index: int) -> None:
    planes = frame.planes
    bits = frame.format.components[0].bits
    if bits == 8:
        luma = planes[0]
        shift = (index * 4) % 256
        luma.update(_gradient(luma.buffer_size + 256)[shift : shift + luma.buffer_size])
        for plane in planes[1:]:
            plane.update(b"\x80" * plane.buffer_size)
        return
    # High bit depth (little-endian words): flat mid-grey, with a little luma motion.
    mid = 1 << (bits - 1)
    for number, plane in enumerate(planes):
        value = mid + (index % 16) * 4 if number == 0 else mid
        plane.update(value.to_bytes(2, "little") * (plane.buffer_size // 2))


def _add_audio_stream(
    container: Any, codec: str, channels: int, sample_rate: int, language: str | None
) -> Any:
    encoder, options = _AUDIO_ENCODERS[codec]
    stream = container.add_stream(encoder, rate=sample_rate)
    stream.layout = _LAYOUTS.get(channels, f"{channels}c")
    if options:
        stream.codec_context.options = dict(options)
    if language:
        stream.metadata["language"] = language
    return stream


def _encode_silence(container: Any, stream: Any, seconds: float, sample_rate: int) -> None:
    total = round(seconds * sample_rate)
    sample_format = stream.codec_context.codec.audio_formats[0].name
    chunk = sample_rate // 10
    silence: AudioFrame | None = None
    done = 0
    while done < total:
        samples = min(chunk, total - done)
        if silence is None or silence.samples != samples:
            silence = AudioFrame(format=sample_format, layout=stream.layout.name, samples=samples)
            for plane in silence.planes:
                plane.update(bytes(plane.buffer_size))
            silence.sample_rate = sample_rate
        silence.pts = done
        silence.time_base = Fraction(1, sample_rate)
        for packet in stream.encode(silence):
            container.mux(packet)
        done += samples
    for packet in stream.encode(None):
        container.mux(packet)


def make_video(
    path: StrPath,
    *,
    seconds: float = 1.0,
    width: int = 320,
    height: int = 240,
    fps: float = 24,
    codec: str = "h264",
    audio: str | None = "aac",
    audio_channels: int = 2,
    audio_language: str | None = None,
    subtitle: bool = False,
    subtitle_codec: str = "subrip",
    subtitle_language: str | None = None,
    subtitle_title: str | None = None,
    subtitle_forced: bool = False,
    pix_fmt: str = "yuv420p",
    color_trc: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Encode a short clip; the container follows the extension (mkv, webm, mp4, mov, avi, ts).

    ``codec`` is one of h264, hevc, mpeg4, vp9; ``audio`` one of aac, mp3, ac3, opus, flac or
    None. ``subtitle`` adds a SubRip (or ``subtitle_codec="ass"``) text track; Matroska only.
    ``color_trc`` ("smpte2084", "arib-std-b67", "bt709") tags the stream's transfer
    characteristic (with BT.2020 primaries/matrix for the HDR ones), as HDR files carry it.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    container_format = _CONTAINER_FORMATS.get(suffix)
    if container_format is None:
        raise ValueError(f"unsupported video container extension: {suffix!r}")
    if subtitle and container_format != "matroska":
        raise ValueError("embedded text subtitles are generated for .mkv only")
    encoder, options = _VIDEO_ENCODERS[codec]
    rate = Fraction(fps).limit_denominator(1001)
    frame_count = max(1, round(seconds * float(rate)))
    with av.open(str(target), "w", format=container_format) as container:
        for key, value in (metadata or {}).items():
            container.metadata[key] = value
        video = container.add_stream(encoder, rate=rate)
        video.width = width
        video.height = height
        video.pix_fmt = pix_fmt
        video.codec_context.time_base = 1 / rate
        if options:
            video.codec_context.options = dict(options)
        if color_trc is not None:
            context = video.codec_context
            context.color_trc = _COLOR_TRC[color_trc]
            if color_trc != "bt709":
                context.color_primaries = _BT2020_PRIMARIES
                context.colorspace = _BT2020_NCL
        sound = (
            _add_audio_stream(container, audio, audio_channels, 48000, audio_language)
            if audio
            else None
        )
        text = None
        if subtitle:
            text = container.add_stream(subtitle_codec)
            text.codec_context.subtitle_header = _ASS_HEADER
            if subtitle_language:
                text.metadata["language"] = subtitle_language
            if subtitle_title:
                text.metadata["title"] = subtitle_title
            if subtitle_forced:
                text.disposition = av.stream.Disposition.forced

        frame = VideoFrame(width, height, pix_fmt)
        for index in range(frame_count):
            _fill_video_frame(frame, index)
            frame.pts = index
            frame.time_base = 1 / rate
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if sound is not None:
            _encode_silence(container, sound, seconds, 48000)
        if text is not None:
            cue = (
                b"Hello, subtitles."
                if subtitle_codec == "subrip"
                else (b"0,0,Default,,0,0,0,,Hello, subtitles.")
            )
            packet = av.Packet(cue)
            packet.stream = text
            packet.pts = packet.dts = 0
            packet.duration = max(1, round(seconds * 500))  # half the clip, in 1/1000 s
            container.mux(packet)
    return target


def _dvd_subpicture(box: tuple[int, int, int, int], milliseconds: int) -> bytes:
    """One DVD subpicture unit: an opaque box drawn in colour code 1, mapped to CLUT entry 7
    (white in the default palette FFmpeg's muxer writes), shown at once, stopped after
    ``milliseconds``. Each RLE line is the "fill to end of line" code."""
    x, y, width, height = box
    top, bottom = b"\x00\x01" * ((height + 1) // 2), b"\x00\x01" * (height // 2)
    right, low = x + width - 1, y + height - 1
    area = bytes([x >> 4, (x & 15) << 4 | right >> 8, right & 255])
    area += bytes([y >> 4, (y & 15) << 4 | low >> 8, low & 255])
    fields = (4).to_bytes(2) + (4 + len(top)).to_bytes(2)
    commands = b"\x03\x00\x70" + b"\x04\x00\xf0" + b"\x05" + area + b"\x06" + fields + b"\x01\xff"
    control = 4 + len(top) + len(bottom)
    stop = control + 4 + len(commands)
    delay = milliseconds * 90 // 1024  # in 1024 ticks of 90 kHz, rounded down: never late
    sequences = (0).to_bytes(2) + stop.to_bytes(2) + commands
    sequences += delay.to_bytes(2) + stop.to_bytes(2) + b"\x02\xff"
    size = control + len(sequences)
    return size.to_bytes(2) + control.to_bytes(2) + top + bottom + sequences


def add_dvd_subtitle(
    source: StrPath,
    path: StrPath,
    cues: Sequence[tuple[float, float, tuple[int, int, int, int]]],
) -> Path:
    """Copy ``source``'s streams into a Matroska ``path`` and add a real DVD (bitmap) subtitle
    track after them: one white box (x, y, width, height) per cue, shown from start to end
    seconds. The packets are hand-made subpictures; PyAV cannot encode bitmap subtitles."""
    target = Path(path)
    with av.open(str(source)) as original, av.open(str(target), "w", format="matroska") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in original.streams}
        track = out.add_stream("dvdsub")
        for packet in original.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
        for start, end, box in cues:
            milliseconds = round((end - start) * 1000)
            packet = av.Packet(_dvd_subpicture(box, milliseconds))
            packet.stream = track
            packet.pts = packet.dts = round(start * 1000)
            packet.duration = milliseconds
            out.mux(packet)
    return target


def make_audio(
    path: StrPath,
    *,
    seconds: float = 1.0,
    channels: int = 2,
    sample_rate: int | None = None,
    tags: Mapping[str, str | Sequence[str]] | None = None,
) -> Path:
    """Encode silence to mp3, flac, m4a (AAC), ogg (Vorbis) or opus, then write ``tags``.

    Tags use mutagen's "easy" key names (title, artist, albumartist, album, tracknumber
    such as "3/12", discnumber, date, genre, musicbrainz_trackid, ...), so the same mapping
    lands as ID3 frames, MP4 atoms or Vorbis comments.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in _AUDIO_FILE_FORMATS:
        raise ValueError(f"unsupported audio extension: {suffix!r}")
    container_format, codec = _AUDIO_FILE_FORMATS[suffix]
    rate = sample_rate or (44100 if codec in {"mp3", "flac"} else 48000)
    with av.open(str(target), "w", format=container_format) as container:
        stream = _add_audio_stream(container, codec, channels, rate, None)
        _encode_silence(container, stream, seconds, rate)
    if tags:
        write_tags(target, tags)
    return target


def write_tags(path: StrPath, tags: Mapping[str, str | Sequence[str]]) -> None:
    """Write tags with mutagen's easy interface (ID3, MP4 atoms or Vorbis comments)."""
    audio = mutagen.File(str(path), easy=True)
    if audio is None:
        raise ValueError(f"mutagen cannot open {path}")
    if audio.tags is None:
        audio.add_tags()
    for key, value in tags.items():
        audio[key] = [value] if isinstance(value, str) else list(value)
    audio.save()


def make_image(
    path: StrPath,
    width: int = 64,
    height: int = 48,
    color: str | tuple[int, int, int] = "red",
) -> Path:
    """A solid image; the format follows the extension (jpg, png, webp, gif, ...)."""
    target = Path(path)
    mode = "RGB"
    Image.new(mode, (width, height), color).save(target)
    return target


def make_truncated(path: StrPath, *, fraction: float = 0.5, **video: Any) -> Path:
    """A real clip (``make_video`` arguments, 2 s by default) cut to ``fraction`` of its bytes."""
    video.setdefault("seconds", 2.0)
    target = make_video(path, **video)
    size = target.stat().st_size
    with open(target, "r+b") as handle:
        handle.truncate(int(size * fraction))
    return target


def make_zero_byte(path: StrPath) -> Path:
    target = Path(path)
    target.write_bytes(b"")
    return target


def make_text(path: StrPath, text: str = "this is not a video\n" * 50) -> Path:
    """A text file, typically under a media extension (``notes.mkv``)."""
    target = Path(path)
    target.write_text(text)
    return target
