"""Text subtitles as WebVTT, the one subtitle format every browser's ``<track>`` element reads.

FFmpeg decodes every text subtitle codec (SubRip, ASS/SSA, WebVTT, mov_text, …) into ASS
dialogue events, so one converter covers them all: PyAV (15+) returns, per packet, a list of
``AssSubtitle`` whose ``.ass`` is ``b"ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,
Text"``; the timing is the packet's (``pts``/``duration`` in the stream time base). The text keeps
ASS override blocks (``{\\i1}``), which become ``<i>``/``<b>``/``<u>`` or vanish.

A sidecar is read by Python, not by FFmpeg: old ``.srt`` files are often cp1252, and FFmpeg
assumes UTF-8; so the bytes are decoded here (BOM stripped, UTF-8, else cp1252, else latin-1) and
handed to the demuxer as UTF-8. Everything here blocks (an embedded track means reading the whole
media file), so callers run it in a thread.
"""

from __future__ import annotations

import io
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

__all__ = [
    "MAX_CUES",
    "MAX_WEBVTT_BYTES",
    "NotTextSubtitle",
    "SubtitleError",
    "SubtitleTooLarge",
    "UnreadableSubtitle",
    "is_text_subtitle",
    "to_webvtt",
]

# Far beyond any real track (a feature film has 1-3k cues, ~100 KB); past this it is abuse or junk.
MAX_WEBVTT_BYTES = 20 * 1024 * 1024
MAX_CUES = 200_000
# A cue without a duration (rare) stays this long.
DEFAULT_CUE_MS = 5_000

_TEXT_CODECS = frozenset({"subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text"})
_SIDECAR_FORMATS = {".srt": "srt", ".ass": "ass", ".ssa": "ass", ".vtt": "webvtt"}
_OVERRIDE_BLOCK = re.compile(r"\{([^}]*)\}")
_OVERRIDE_TAG = re.compile(r"\\(?:([ibup])(\d*)(?=\\|$)|(r)[^\\]*)")
_EMPTY_PAIR = re.compile(r"<([ibu])></\1>")
_ANY_TAG = re.compile(r"</?[ibu]>")


class SubtitleError(Exception):
    """A subtitle track that cannot become WebVTT."""


class NotTextSubtitle(SubtitleError):
    """A bitmap track (PGS, VobSub, DVB): it has pictures, not text, so no WebVTT."""


class UnreadableSubtitle(SubtitleError):
    """A corrupt or undecodable track, or one that is not where the catalog says."""


class SubtitleTooLarge(UnreadableSubtitle):
    """A track whose WebVTT would exceed the limits: refused rather than held in memory."""


def is_text_subtitle(codec: str | None) -> bool:
    """Whether a codec (FFmpeg's name) carries text that can become WebVTT."""
    return codec is not None and codec.lower() in _TEXT_CODECS


def to_webvtt(
    path: str | os.PathLike[str],
    stream_index: int | None = None,
    *,
    max_bytes: int = MAX_WEBVTT_BYTES,
    max_cues: int = MAX_CUES,
) -> str:
    """The WebVTT document of one text subtitle track, cues sorted by start.

    With ``stream_index``, ``path`` is a media file and the track is its stream with that
    container index; without, ``path`` is a sidecar (``.srt``, ``.ass``, ``.ssa``, ``.vtt``).
    Raises ``FileNotFoundError`` (or another ``OSError``) when the file cannot be opened,
    ``NotTextSubtitle`` for a bitmap track, ``UnreadableSubtitle`` for a corrupt one and
    ``SubtitleTooLarge`` past ``max_bytes`` of WebVTT or ``max_cues`` cues.
    """
    cues = _Cues(max_bytes, max_cues)
    if stream_index is None:
        _read_sidecar(Path(path), cues, max_bytes)
    else:
        _read_embedded(Path(path), stream_index, cues)
    return cues.document()


class _Cues:
    """Collected cues and the running size that enforces the limits while decoding."""

    def __init__(self, max_bytes: int, max_cues: int) -> None:
        self.max_bytes, self.max_cues = max_bytes, max_cues
        self.items: list[tuple[int, int, str]] = []
        self.size = len("WEBVTT\n")

    def add(self, start_ms: int, end_ms: int, text: str) -> None:
        self.size += len(text.encode("utf-8")) + 32  # two timestamps, arrow, blank line
        if self.size > self.max_bytes:
            raise SubtitleTooLarge(f"subtitle track is larger than {self.max_bytes} bytes")
        if len(self.items) >= self.max_cues:
            raise SubtitleTooLarge(f"subtitle track has more than {self.max_cues} cues")
        self.items.append((start_ms, max(end_ms, start_ms), text))

    def document(self) -> str:
        self.items.sort(key=lambda cue: (cue[0], cue[1]))
        blocks = [
            f"{_timestamp(start)} --> {_timestamp(end)}\n{text}\n"
            for start, end, text in self.items
        ]
        return "\n".join(["WEBVTT\n", *blocks])


def _timestamp(ms: int) -> str:
    hours, rest = divmod(max(ms, 0), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _read_embedded(path: Path, stream_index: int, cues: _Cues) -> None:
    try:
        with av.open(str(path)) as container:
            if not 0 <= stream_index < len(container.streams):
                raise UnreadableSubtitle(f"the file has no stream {stream_index}")
            stream = container.streams[stream_index]
            if stream.type != "subtitle":
                raise UnreadableSubtitle(f"stream {stream_index} is not a subtitle stream")
            _decode(container, stream, cues)
    except FileNotFoundError:
        raise
    except av.error.FFmpegError as error:
        raise UnreadableSubtitle(f"the subtitle track cannot be decoded: {error}") from None


def _read_sidecar(path: Path, cues: _Cues, max_bytes: int) -> None:
    demuxer = _SIDECAR_FORMATS.get(path.suffix.lower())
    if demuxer is None:
        raise NotTextSubtitle(f"{path.suffix or 'this'} sidecars are not text subtitles")
    with path.open("rb") as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SubtitleTooLarge(f"subtitle file is larger than {max_bytes} bytes")
    text = decode_text(data)
    if "\x00" in text:
        raise UnreadableSubtitle("the subtitle file is not text")
    if not text.strip():
        return
    try:
        with av.open(io.BytesIO(text.encode("utf-8")), format=demuxer) as container:
            if not container.streams.subtitles:
                raise UnreadableSubtitle("the subtitle file has no subtitle track")
            _decode(container, container.streams.subtitles[0], cues)
    except av.error.FFmpegError as error:
        raise UnreadableSubtitle(f"the subtitle file cannot be decoded: {error}") from None
    if not cues.items:
        raise UnreadableSubtitle("the subtitle file has no readable cues")


def decode_text(data: bytes) -> str:
    """Sidecar bytes as text: a BOM decides (UTF-8/UTF-16), else UTF-8, else cp1252 (what
    Windows tools wrote for decades), else latin-1, which accepts any byte."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _decode(container: Any, stream: Any, cues: _Cues) -> None:
    codec = stream.codec_context.name
    if not is_text_subtitle(codec):
        raise NotTextSubtitle(f"{codec} subtitles are pictures, not text")
    for packet in container.demux(stream):
        pts = packet.pts if packet.pts is not None else packet.dts
        if pts is None or packet.size == 0:
            continue
        lines = [_cue_text(event) for event in _ass_events(stream.decode(packet))]
        text = "\n".join(line for line in lines if line)
        if not text:
            continue
        time_base = packet.time_base or stream.time_base
        start = round(Fraction(pts) * time_base * 1000)
        duration = round(Fraction(packet.duration or 0) * time_base * 1000)
        cues.add(start, start + (duration or DEFAULT_CUE_MS), text)


def _ass_events(decoded: Any) -> list[str]:
    """The ASS events of one decoded packet: PyAV 15+ returns the rectangles, older versions
    ``SubtitleSet`` objects holding them."""
    events = []
    for item in decoded:
        for rect in item if hasattr(item, "rects") else (item,):
            ass = getattr(rect, "ass", None)
            if ass is None:
                raise NotTextSubtitle("the subtitle track holds pictures, not text")
            events.append(ass.decode("utf-8", errors="replace") if isinstance(ass, bytes) else ass)
    return events


def _cue_text(event: str) -> str:
    """WebVTT cue text of one ASS event: italic/bold/underline as tags, other overrides and
    drawings dropped, ``\\N`` a line break, ``&<>`` escaped, no blank lines (they end a cue)."""
    fields = event.split(",", 8)
    text = fields[8] if len(fields) == 9 else event
    out: list[str] = []
    open_tags: list[str] = []
    drawing = False

    def toggle(tag: str, on: bool) -> None:
        if on and tag not in open_tags:
            open_tags.append(tag)
            out.append(f"<{tag}>")
        elif not on and tag in open_tags:  # close what opened later too, then reopen it
            later = open_tags[open_tags.index(tag) + 1 :]
            out.extend(f"</{name}>" for name in [*reversed(later), tag])
            del open_tags[open_tags.index(tag) :]
            for name in later:
                toggle(name, True)

    position = 0
    for block in _OVERRIDE_BLOCK.finditer(text):
        if not drawing:
            out.append(_plain(text[position : block.start()]))
        position = block.end()
        for match in _OVERRIDE_TAG.finditer(block.group(1)):
            name, value, reset = match.groups()
            if reset:
                for tag in reversed(list(open_tags)):
                    toggle(tag, False)
            elif name == "p":
                drawing = value not in ("", "0")
            else:
                toggle(name, value not in ("", "0"))
    if not drawing:
        out.append(_plain(text[position:]))
    for tag in reversed(list(open_tags)):
        toggle(tag, False)
    lines: list[str] = []
    carry = ""  # a line of tags only joins the next one, keeping the tags balanced
    for line in "".join(out).split("\n"):
        line = carry + line.rstrip()
        if _visible(line):
            lines.append(line)
            carry = ""
        else:
            carry = line
    if carry and lines:
        lines[-1] += carry
    cue = "\n".join(lines)
    while _EMPTY_PAIR.search(cue):
        cue = _EMPTY_PAIR.sub("", cue)
    return cue


def _visible(text: str) -> bool:
    return bool(_ANY_TAG.sub("", text).strip())


def _plain(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\r", "")
    return text.replace("\\N", "\n").replace("\\n", " ").replace("\\h", "\u00a0")
