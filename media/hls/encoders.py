"""Which video encoder a transcode uses: a working hardware encoder when there is one.

An encoder being compiled into FFmpeg (``av.codecs_available``) says nothing about the machine:
NVENC needs an NVIDIA driver (libcuda), QSV an Intel media session, VAAPI a render device and
hardware frames. So each candidate is opened and fed a few frames once per process; the
result, with FFmpeg's own error line as the reason, is what ``choose_encoder`` picks from.
Detection is synchronous and can take a second on a machine with drivers: call it off the
event loop (a worker thread at startup is the natural place), in the process that encodes: a
gateway's GPU says nothing about the worker that runs the transcode.

Each encoder is fed frames in a format it reports accepting (``input_format``: QSV takes nv12,
not yuv420p). VAAPI encoders accept only hardware surfaces; PyAV's filter graphs cannot attach a
VAAPI device for ``hwupload``, so they count as unavailable and the transcode uses software.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import cast

import av
import av.logging
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame

__all__ = [
    "CANDIDATES",
    "SOFTWARE",
    "EncoderChoice",
    "EncoderProbe",
    "choose_encoder",
    "codec_of",
    "detect_encoders",
    "input_format",
    "software_encoder",
]

# Hardware candidates per output codec, in the order "auto" prefers them: NVENC is the fastest
# and best-supported, QSV next, VAAPI (generic Linux) last.
CANDIDATES: Mapping[str, tuple[tuple[str, str], ...]] = {
    "h264": (("h264_nvenc", "nvenc"), ("h264_qsv", "qsv"), ("h264_vaapi", "vaapi")),
    "hevc": (("hevc_nvenc", "nvenc"), ("hevc_qsv", "qsv"), ("hevc_vaapi", "vaapi")),
}
SOFTWARE: Mapping[str, str] = {"h264": "libx264", "hevc": "libx265"}
PREFERENCES = frozenset({"auto", "software", "nvenc", "qsv", "vaapi"})

# Sane defaults per encoder family for on-demand segments: fast enough to stay ahead of
# playback, and IDR frames where the transcoder forces keyframes, so every segment starts
# decodable (HLS's INDEPENDENT-SEGMENTS).
_OPTIONS: Mapping[str, Mapping[str, str]] = {
    "libx264": {"preset": "veryfast"},
    "libx265": {"preset": "veryfast", "x265-params": "log-level=error"},
    # p4 is NVENC's balanced preset (p1 fastest .. p7 best); forced-idr turns forced key
    # frames into IDR frames instead of plain I frames.
    "nvenc": {"preset": "p4", "tune": "hq", "forced-idr": "1"},
    # QSV names its presets like x264; forced_idr as with NVENC.
    "qsv": {"preset": "veryfast", "forced_idr": "1"},
    # VAAPI has no presets; the driver's default rate control and quality level are sane.
    "vaapi": {},
}
# Frame formats the transcoder's scaler makes in system memory, in the order it prefers them.
_SYSTEM_FORMATS = ("yuv420p", "nv12")
_PROBE_SIZE = (256, 144)  # 16-aligned and above every hardware encoder's minimum


@dataclass(frozen=True, slots=True)
class EncoderProbe:
    """One candidate encoder on this machine; ``reason`` says why it is unavailable."""

    codec: str  # the output codec: "h264" or "hevc"
    name: str  # FFmpeg encoder name, "h264_nvenc"
    kind: str  # nvenc, qsv, vaapi or software
    available: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class EncoderChoice:
    """The encoder to open, its options, and why a requested one was not used."""

    name: str
    kind: str
    options: Mapping[str, str] = field(default_factory=dict)
    reason: str | None = None


_lock = threading.Lock()
_detected: tuple[EncoderProbe, ...] | None = None


def detect_encoders() -> list[EncoderProbe]:
    """Probe every candidate (hardware and software) once per process; later calls are free."""
    global _detected
    with _lock:
        if _detected is None:
            probes = []
            for codec, candidates in CANDIDATES.items():
                for name, kind in (*candidates, (SOFTWARE[codec], "software")):
                    probes.append(_probe(codec, name, kind))
            _detected = tuple(probes)
        return list(_detected)


def choose_encoder(
    codec: str = "h264",
    preference: str = "auto",
    *,
    probes: Sequence[EncoderProbe] | None = None,
) -> EncoderChoice:
    """The encoder for ``codec`` given the operator's ``preference``.

    "auto" takes the first available hardware encoder, else software; "software" always
    software; "nvenc", "qsv", "vaapi" that one when it works, else software with the reason in
    ``EncoderChoice.reason``. ``probes`` replaces detection (tests, or a cached result).
    """
    if codec not in CANDIDATES:
        raise ValueError(f"no encoders known for {codec!r}; known: {', '.join(CANDIDATES)}")
    if preference not in PREFERENCES:
        known = ", ".join(sorted(PREFERENCES))
        raise ValueError(f"unknown encoder preference {preference!r}; known: {known}")
    found = {probe.name: probe for probe in (detect_encoders() if probes is None else probes)}
    reason: str | None = None
    if preference != "software":
        for name, kind in CANDIDATES[codec]:
            if preference not in ("auto", kind):
                continue
            probe = found.get(name)
            if probe is not None and probe.available:
                return EncoderChoice(name, kind, dict(_OPTIONS[kind]))
            if preference == kind:
                why = probe.reason if probe is not None else "not probed"
                reason = f"{name} unavailable: {why}"
    return software_encoder(codec, reason)


def input_format(name: str, accepted: Sequence[str] | None = None) -> str | None:
    """The frame format to feed encoder ``name``: the first of yuv420p, nv12 among the formats
    it reports (``accepted`` replaces the report); yuv420p when it reports none; None when it
    takes only hardware frames (VAAPI's surfaces) or is not built in."""
    if accepted is None:
        if name not in av.codecs_available:
            return None
        formats = av.Codec(name, "w").video_formats or []
        accepted = [video_format.name for video_format in formats]
    if not accepted:
        return "yuv420p"
    return next((candidate for candidate in _SYSTEM_FORMATS if candidate in accepted), None)


def codec_of(name: str) -> str:
    """The output codec of an encoder name ("h264_qsv" -> "h264"); "h264" when unknown."""
    for codec, candidates in CANDIDATES.items():
        if name == SOFTWARE[codec] or any(name == candidate for candidate, _ in candidates):
            return codec
    return "h264"


def software_encoder(codec: str = "h264", reason: str | None = None) -> EncoderChoice:
    """The software encoder for ``codec`` with its options: what a failed hardware encode
    falls back to."""
    name = SOFTWARE[codec]
    return EncoderChoice(name, "software", dict(_OPTIONS[name]), reason)


def _probe(codec: str, name: str, kind: str) -> EncoderProbe:
    if name not in av.codecs_available:
        return EncoderProbe(codec, name, kind, False, "not built into this FFmpeg")
    pix_fmt = input_format(name)
    if pix_fmt is None:
        reason = "takes only hardware frames, which PyAV cannot upload"
        return EncoderProbe(codec, name, kind, False, reason)
    try:
        _encode_test_frames(name, pix_fmt, _OPTIONS.get(kind) or _OPTIONS[name])
    except Exception as error:  # any failure means "not usable here"; the reason says which
        return EncoderProbe(codec, name, kind, False, _describe(error))
    return EncoderProbe(codec, name, kind, True)


def _encode_test_frames(name: str, pix_fmt: str, options: Mapping[str, str]) -> int:
    """Open ``name`` and encode three blank frames; returns the packets out. Raises what
    FFmpeg raises. FFmpeg's log is raised to ERROR for the call so that the exception carries
    the encoder's own explanation ("Cannot load libcuda.so.1") instead of just EPERM."""
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture(local=True):
            context = cast(VideoCodecContext, av.CodecContext.create(name, "w"))
            width, height = _PROBE_SIZE
            context.width, context.height, context.pix_fmt = width, height, pix_fmt
            context.time_base = Fraction(1, 25)
            context.framerate = Fraction(25)
            context.options = dict(options)
            context.open()
            packets = 0
            for index in range(3):
                frame = VideoFrame(width, height, pix_fmt)
                frame.pts = index
                packets += len(context.encode(frame))
            packets += len(context.encode(None))
            return packets
    finally:
        av.logging.set_level(previous)


def _describe(error: Exception) -> str:
    text = str(error)
    marker = "last error log: "
    if marker in text:  # PyAV appends FFmpeg's last error line: the useful part
        text = text.split(marker, 1)[1]
        text = text.split("] ", 1)[1] if text.startswith("[") and "] " in text else text
    return f"{type(error).__name__}: {text.strip()}"
