"""Seek thumbnails (trickplay): tile sheets of small frames plus a WebVTT index.

A player hovering over its seek bar shows the cue whose time range covers the pointer; each cue
points at one tile of a JPEG sheet (``sheet_000.jpg#xywh=x,y,w,h``), so a two-hour film costs a
handful of image requests instead of hundreds.

Only keyframes are decoded (``skip_frame = NONKEY``, threaded), and keyframe packets no mark needs
are never handed to the decoder at all: a 10-second interval over 2-second GOPs decodes one frame
in five. The rule per interval mark is *the first keyframe at or after the mark* (a thumbnail
never shows something from before the time it is labelled with); marks past the last keyframe
take the last one. Duplicates happen when keyframes are sparser than the interval — the cues stay
regular either way.

Output is written into a hidden staging folder beside ``out_dir`` and renamed into place, so a
reader sees the old set or the new one, never half of either; a failure removes the staging folder.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
from av.video.frame import VideoFrame
from PIL import Image

__all__ = [
    "INDEX_NAME",
    "NoVideoStream",
    "TrickplayCancelled",
    "TrickplayError",
    "TrickplayResult",
    "make_trickplay",
    "sheet_name",
]

INDEX_NAME = "index.vtt"
JPEG_QUALITY = 75
_EPSILON = 1e-6  # seconds; float noise around a mark must not push a keyframe to the next one


class TrickplayError(Exception):
    """The source cannot be turned into thumbnails; the message is one readable line."""


class NoVideoStream(TrickplayError):
    """The source has no video to take thumbnails from (audio only, or only cover art)."""


class TrickplayCancelled(TrickplayError):
    """``should_stop`` answered True; nothing was published."""


@dataclass(frozen=True, slots=True)
class TrickplayResult:
    """What was written. ``width``/``height`` are one tile's; ``decoded_frames`` counts the
    frames the decoder produced (keyframes only), which tests and benchmarks read."""

    interval_ms: int
    width: int
    height: int
    columns: int
    rows: int
    sheet_count: int
    thumbnail_count: int
    decoded_frames: int
    duration_seconds: float


def sheet_name(number: int) -> str:
    return f"sheet_{number:03d}.jpg"


def make_trickplay(
    source: str,
    out_dir: str,
    *,
    interval_seconds: float = 10.0,
    columns: int = 10,
    rows: int = 10,
    width: int = 320,
    should_stop: Callable[[], bool] | None = None,
) -> TrickplayResult:
    """Write ``sheet_NNN.jpg`` and ``index.vtt`` for ``source`` into ``out_dir`` (replaced whole).

    Blocking and CPU-bound: call it from a worker thread. Raises ``NoVideoStream``,
    ``TrickplayError`` for unreadable input and ``TrickplayCancelled`` when ``should_stop``
    says so; in every failure ``out_dir`` is left as it was.
    """
    if not interval_seconds > 0 or columns < 1 or rows < 1 or width < 2:
        raise ValueError("interval, columns, rows and width must be positive")
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.", dir=parent)
    try:
        os.chmod(staging, 0o755)
        frames = _Thumbnails(interval_seconds, width, should_stop or (lambda: False))
        _decode(source, frames)
        result = _write(frames, staging, interval_seconds, columns, rows)
        _publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


class _Thumbnails:
    """Marks and the scaled keyframe chosen for each, filled while decoding."""

    def __init__(self, interval: float, width: int, should_stop: Callable[[], bool]) -> None:
        self.interval = interval
        self.width = width
        self.height = 0
        self.pixel_aspect = Fraction(1)  # the stream's sample aspect ratio (anamorphic DVDs)
        self.should_stop = should_stop
        self.images: list[Image.Image] = []  # one per mark, in order (shared when duplicated)
        self.mark_count: int | None = None  # known up front when the duration is
        self.duration = 0.0
        self.decoded = 0
        self.next_mark = 0.0  # the first mark no keyframe sent to the decoder covers yet

    def wants_packet(self, seconds: float | None) -> bool:
        """A keyframe packet is decoded only when it is the first at/after a pending mark."""
        if seconds is not None:
            if seconds + _EPSILON < self.next_mark:
                return False
            self.next_mark = (math.floor(seconds / self.interval + _EPSILON) + 1) * self.interval
        return True

    def done(self) -> bool:
        return self.mark_count is not None and len(self.images) >= self.mark_count

    def add(self, frame: VideoFrame, seconds: float) -> None:
        self.decoded += 1
        due = math.floor(seconds / self.interval + _EPSILON) + 1  # marks at or before this frame
        if self.mark_count is not None:
            due = min(due, self.mark_count)
        if due <= len(self.images):
            return
        image = self._scale(frame)
        self.images.extend([image] * (due - len(self.images)))

    def _scale(self, frame: VideoFrame) -> Image.Image:
        if not self.height:
            display_width = frame.width * self.pixel_aspect
            self.height = max(2, round(self.width * frame.height / display_width / 2) * 2)
        scaled = frame.reformat(
            width=self.width, height=self.height, format="rgb24", interpolation="AREA"
        )
        image: Image.Image = scaled.to_image()  # type: ignore[no-untyped-call]
        return image

    def finish(self, last_seconds: float) -> None:
        """Marks past the last keyframe take the last thumbnail."""
        if self.mark_count is None:
            self.mark_count = math.floor(last_seconds / self.interval + _EPSILON) + 1
            self.duration = self.mark_count * self.interval  # unknown: the last cue runs full
        if self.images:
            self.images.extend([self.images[-1]] * (self.mark_count - len(self.images)))


def _open(source: str) -> Any:
    try:
        return av.open(source)
    except av.error.FFmpegError as error:
        raise TrickplayError(f"truncated or corrupt: {error.strerror or error}") from None
    except OSError as error:
        raise TrickplayError(f"cannot read file: {error.strerror or error}") from None


def _decode(source: str, frames: _Thumbnails) -> None:
    container = _open(source)
    try:
        cover_art = int(av.stream.Disposition.attached_pic)
        videos = (s for s in container.streams.video if not int(s.disposition) & cover_art)
        stream = next(videos, None)
        if stream is None:
            raise NoVideoStream("the file has no video stream")
        context = stream.codec_context
        context.skip_frame = "NONKEY"
        context.thread_type = "AUTO"
        time_base = stream.time_base or Fraction(1, 1000)
        aspect = stream.sample_aspect_ratio or context.sample_aspect_ratio
        if aspect:
            frames.pixel_aspect = Fraction(aspect)
        start = stream.start_time
        if stream.duration:
            frames.duration = float(stream.duration * time_base)
        elif container.duration:
            frames.duration = container.duration / 1_000_000
        if frames.duration > 0:
            # A tail shorter than a tenth of an interval joins the previous cue.
            frames.mark_count = max(1, math.ceil(frames.duration / frames.interval - 0.1))
        last_seconds = 0.0
        try:
            for packet in container.demux(stream):
                if frames.should_stop():
                    raise TrickplayCancelled("stopped on request")
                if start is None and packet.pts is not None:
                    start = packet.pts
                if packet.is_keyframe:
                    at = None if packet.pts is None else _seconds(packet.pts, start, time_base)
                    if not frames.wants_packet(at):
                        continue
                for frame in _decoded(stream, packet):
                    if frame.pts is None:
                        continue
                    last_seconds = _seconds(frame.pts, start, time_base)
                    frames.add(frame, last_seconds)
                if frames.done():
                    break
        except av.error.FFmpegError as error:
            raise TrickplayError(f"truncated or corrupt: {error.strerror or error}") from None
        if not frames.images:
            raise TrickplayError("truncated or corrupt: no keyframe could be decoded")
        frames.finish(last_seconds)
    finally:
        container.close()


def _seconds(pts: int, start: int | None, time_base: Fraction) -> float:
    return max(0.0, float((pts - (start or 0)) * time_base))


def _decoded(stream: Any, packet: Any) -> list[VideoFrame]:
    """A packet's frames; one the decoder rejects is skipped (one bad GOP is not a bad file)."""
    try:
        return list(stream.decode(packet))
    except av.error.InvalidDataError:
        return []


def _write(
    frames: _Thumbnails, folder: str, interval: float, columns: int, rows: int
) -> TrickplayResult:
    per_sheet = columns * rows
    tile_w, tile_h = frames.width, frames.height
    total = len(frames.images)
    cues = ["WEBVTT", ""]
    sheet_count = math.ceil(total / per_sheet)
    for sheet in range(sheet_count):
        if frames.should_stop():
            raise TrickplayCancelled("stopped on request")
        tiles = frames.images[sheet * per_sheet : (sheet + 1) * per_sheet]
        used_rows = math.ceil(len(tiles) / columns)
        used_columns = columns if used_rows > 1 else len(tiles)
        canvas = Image.new("RGB", (used_columns * tile_w, used_rows * tile_h))
        for position, tile in enumerate(tiles):
            x, y = (position % columns) * tile_w, (position // columns) * tile_h
            canvas.paste(tile, (x, y))
            number = sheet * per_sheet + position
            begin = number * interval
            end = (number + 1) * interval
            if number == total - 1 and frames.duration > begin:
                end = frames.duration
            cues.append(f"{_timestamp(begin)} --> {_timestamp(end)}")
            cues.append(f"{sheet_name(sheet)}#xywh={x},{y},{tile_w},{tile_h}")
            cues.append("")
        canvas.save(os.path.join(folder, sheet_name(sheet)), "JPEG", quality=JPEG_QUALITY)
    with open(os.path.join(folder, INDEX_NAME), "w", encoding="utf-8") as index:
        index.write("\n".join(cues))
    return TrickplayResult(
        interval_ms=round(interval * 1000),
        width=tile_w,
        height=tile_h,
        columns=columns,
        rows=rows,
        sheet_count=sheet_count,
        thumbnail_count=total,
        decoded_frames=frames.decoded,
        duration_seconds=frames.duration,
    )


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"


def _publish(staging: str, out_dir: str) -> None:
    """Swap the staging folder in. An existing set is moved aside first (two renames: a reader
    may see no folder for that instant, never a mixed one), then deleted."""
    retired = None
    if os.path.lexists(out_dir):
        retired = f"{out_dir}.old-{uuid.uuid4().hex[:8]}"
        os.rename(out_dir, retired)
    os.rename(staging, out_dir)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
