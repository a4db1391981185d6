"""Burn image subtitles (PGS ``hdmv_pgs_subtitle``, VobSub ``dvd_subtitle``) into decoded video.

A player cannot draw these bitmap tracks from an HLS stream, so when the client asked for one the
transcoder paints it into the picture. ``SubtitleOverlay`` opens its own demuxer on the source and
reads only the subtitle stream, lazily: never more than one packet past the frame being drawn, so
a film's track is never held in memory. A new subtitle event ends the previous one (a PGS "clear"
is an event with no rectangles); an explicit end time (VobSub's stop command) ends it earlier.

Captions are blended straight into the frame's Y, Cb and Cr planes on a copy of the frame (the
decoder may still reference the original), before scaling, so positions are the source's own;
frames without an active caption are returned untouched and cost nothing.

PyAV 18 gives a ``BitmapSubtitle`` with x, y, width, height, nb_colors and a single plane of
8-bit palette indices, but drops the palette (FFmpeg leaves ``linesize[1]`` at 0, and PyAV only
exposes planes with a line size). The palette is read from the underlying ``AVSubtitleRect``
with ctypes; the pointer is checked against the values PyAV reports before it is trusted.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
from av.container import InputContainer
from av.packet import Packet
from av.subtitles.subtitle import BitmapSubtitle, SubtitleSet
from av.video.frame import VideoFrame
from PIL import Image

from media.hls.transcode import TranscodeError

__all__ = ["SubtitleOverlay"]

_DECODERS = frozenset({"pgssub", "dvdsub"})  # of hdmv_pgs_subtitle and dvd_subtitle
# After a seek, read back this far: a caption that started earlier may still be on screen.
_LOOKBACK_SECONDS = 10.0
_OPEN_ENDED_MS = 24 * 3600 * 1000  # end_display_time past this (PGS: UINT32_MAX) means "until next"
_PLANAR_420 = frozenset({"yuv420p", "yuvj420p"})
_KR_KB = {1: (0.2126, 0.0722), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}  # AVColorSpace
_BT601 = (0.299, 0.114)


class _Rect(ctypes.Structure):
    """The head of FFmpeg's ``AVSubtitleRect`` (stable since FFmpeg 4)."""

    _fields_ = [
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("w", ctypes.c_int),
        ("h", ctypes.c_int),
        ("nb_colors", ctypes.c_int),
        ("data", ctypes.c_void_p * 4),
        ("linesize", ctypes.c_int * 4),
    ]


def _rgba_image(rect: BitmapSubtitle) -> Image.Image:
    """The rectangle as RGBA; raises when the C struct does not look like PyAV's view of it."""
    # PyAV's Subtitle object: PyObject header, then `proxy` (object), then `AVSubtitleRect *ptr`.
    address = id(rect) + object.__basicsize__ + ctypes.sizeof(ctypes.c_void_p)
    pointer = ctypes.c_void_p.from_address(address).value
    c_rect = _Rect.from_address(pointer) if pointer else None
    plane: Any = rect.planes[0] if rect.planes else None  # a writable buffer, untyped in PyAV
    view = (ctypes.c_uint8 * plane.buffer_size).from_buffer(plane) if plane else None
    if (
        c_rect is None
        or view is None
        or (c_rect.x, c_rect.y, c_rect.w, c_rect.h) != (rect.x, rect.y, rect.width, rect.height)
        or c_rect.data[0] != ctypes.addressof(view)
        or not c_rect.data[1]
        or not 0 < c_rect.nb_colors <= 256
        or c_rect.linesize[0] < c_rect.w
    ):
        raise TranscodeError("SUBTITLE_UNREADABLE", "cannot read a bitmap subtitle's palette")
    stride = c_rect.linesize[0]
    indices = ctypes.string_at(c_rect.data[0], stride * c_rect.h)
    # Native-endian 0xAARRGGBB words: bytes B, G, R, A on the little-endian machines we run on.
    argb = ctypes.string_at(c_rect.data[1], c_rect.nb_colors * 4).ljust(1024, b"\x00")
    palette = Image.frombytes("RGBA", (256, 1), argb, "raw", "BGRA").tobytes()
    image = Image.frombytes("P", (c_rect.w, c_rect.h), indices, "raw", "P", stride, 1)
    image.putpalette(palette, "RGBA")
    return image.convert("RGBA")


@dataclass(slots=True)
class _Picture:
    """One caption rectangle in frame coordinates, its planes prepared per colour matrix."""

    x: int
    y: int
    rgba: Image.Image
    planes: dict[tuple[int, bool], list[tuple[Image.Image, Image.Image]]] = field(
        default_factory=dict
    )

    def prepared(self, colorspace: int, full: bool) -> list[tuple[Image.Image, Image.Image]]:
        """(values, alpha) for Y, Cb and Cr, the chroma ones at half size (4:2:0)."""
        key = (colorspace, full)
        if key not in self.planes:
            kr, kb = _KR_KB.get(colorspace, _BT601)
            kg = 1 - kr - kb
            luma, chroma, low = (1.0, 1.0, 0.0) if full else (219 / 255, 224 / 255, 16.0)
            cb, cr = chroma / (2 * (1 - kb)), chroma / (2 * (1 - kr))
            matrix = (
                *(luma * k for k in (kr, kg, kb)),
                low,
                -cb * kr,
                -cb * kg,
                cb * (1 - kb),
                128.0,
                cr * (1 - kr),
                -cr * kg,
                -cr * kb,
                128.0,
            )
            half = self.rgba.resize(
                (self.rgba.width // 2, self.rgba.height // 2), Image.Resampling.BOX
            )
            y = self.rgba.convert("RGB").convert("RGB", matrix).getchannel(0)
            _, u, v = half.convert("RGB").convert("RGB", matrix).split()
            alpha, half_alpha = self.rgba.getchannel("A"), half.getchannel("A")
            self.planes[key] = [(y, alpha), (u, half_alpha), (v, half_alpha)]
        return self.planes[key]


@dataclass(slots=True)
class _Caption:
    start: float
    end: float
    pictures: list[_Picture]


def _picture(rect: BitmapSubtitle) -> _Picture:
    """Pad the rectangle to even offsets and size so its chroma lines up with the frame's."""
    rgba = _rgba_image(rect)
    x, y = rect.x - rect.x % 2, rect.y - rect.y % 2
    width, height = rect.width + rect.x - x, rect.height + rect.y - y
    canvas = Image.new("RGBA", (width + width % 2, height + height % 2))
    canvas.paste(rgba, (rect.x - x, rect.y - y))
    return _Picture(x, y, canvas)


class SubtitleOverlay:
    """Draws one bitmap subtitle stream of ``source`` onto that source's decoded frames.

    Times are the source's presentation timeline in seconds (``frame.pts * time_base``, not
    shifted to the video's start); ``apply`` must be called with non-decreasing times after
    construction or ``seek``."""

    def __init__(self, source: str, stream_index: int) -> None:
        try:
            self.container: InputContainer = av.open(source, "r")
        except (av.FFmpegError, OSError) as error:
            raise TranscodeError("SOURCE_UNREADABLE", f"{source}: {error}") from error
        streams = [s for s in self.container.streams.subtitles if s.index == stream_index]
        if not streams or streams[0].codec_context.name not in _DECODERS:
            self.container.close()
            what = "not a bitmap subtitle" if streams else "no such subtitle stream"
            raise TranscodeError("STREAM_NOT_FOUND", f"{source}: stream {stream_index}: {what}")
        self.stream: Any = streams[0]
        self.time_base = self.stream.time_base or Fraction(1, 1000)
        self.seek(None)

    def close(self) -> None:
        self.container.close()

    def seek(self, seconds: float | None) -> None:
        """Restart reading so a caption on screen at ``seconds`` is found (None: from the top)."""
        if seconds is not None:
            target = max(0.0, seconds - _LOOKBACK_SECONDS)
            self.container.seek(round(target * av.time_base))  # the default (video) stream's
            self.stream.codec_context.flush_buffers()
        self.packets = self.container.demux(self.stream)
        self.pending: Packet[Any] | None = None
        self.captions: list[_Caption] = []
        self.exhausted = False

    def apply(self, frame: VideoFrame, seconds: float) -> VideoFrame:
        """``frame`` with the captions on screen at ``seconds`` painted in; itself if none."""
        self._advance(seconds)
        active = [c for c in self.captions if c.start <= seconds < c.end]
        if not active:
            return frame
        return _paint(frame, [p for c in active for p in c.pictures])

    def _advance(self, seconds: float) -> None:
        """Decode every subtitle packet up to ``seconds``; keep the first one after it pending."""
        while not self.exhausted:
            if self.pending is None:
                self.pending = next(self.packets, None)
                if self.pending is None:
                    self.exhausted = True
                    break
            packet = self.pending
            if packet.pts is None or not packet.size:
                self.pending = None
                continue
            at = float(packet.pts * self.time_base)
            if at > seconds:
                break
            self.pending = None
            subtitle: SubtitleSet | None = self.stream.codec_context.decode2(packet)
            if subtitle is not None:
                self._add(at, subtitle)
        self.captions = [c for c in self.captions if c.end > seconds]

    def _add(self, at: float, subtitle: SubtitleSet) -> None:
        start = at + subtitle.start_display_time / 1000
        for caption in self.captions:  # a new event replaces whatever was on screen
            caption.end = min(caption.end, start)
        end_ms = subtitle.end_display_time
        end = at + end_ms / 1000 if 0 < end_ms < _OPEN_ENDED_MS else float("inf")
        rects = [r for r in subtitle.rects if isinstance(r, BitmapSubtitle) and r.width > 0]
        if rects and end > start:
            self.captions.append(_Caption(start, end, [_picture(r) for r in rects]))


def _paint(frame: VideoFrame, pictures: list[_Picture]) -> VideoFrame:
    """A new 4:2:0 frame: ``frame``'s planes with ``pictures`` alpha-blended in."""
    source = frame if frame.format.name in _PLANAR_420 else frame.reformat(format="yuv420p")
    colorspace = (
        frame.colorspace if frame.colorspace in _KR_KB else (1 if frame.height > 576 else 0)
    )
    full = source.format.name == "yuvj420p" or frame.color_range == 2
    result = VideoFrame(frame.width, frame.height, source.format.name)
    for number, (plane, target) in enumerate(zip(source.planes, result.planes, strict=True)):
        shift = 0 if number == 0 else 1
        size = (plane.line_size, plane.height)
        image = Image.frombuffer("L", size, plane, "raw", "L", 0, 1)  # type: ignore[arg-type]
        image = image.copy()
        for picture in pictures:
            values, alpha = picture.prepared(colorspace, full)[number]
            image.paste(values, (picture.x >> shift, picture.y >> shift), alpha)
        if target.line_size != plane.line_size:
            image = image.crop((0, 0, target.line_size, target.height))
        target.update(image.tobytes())
    result.pts, result.time_base = frame.pts, frame.time_base
    result.colorspace, result.color_range = frame.colorspace, frame.color_range
    return result
