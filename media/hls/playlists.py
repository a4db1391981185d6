"""HLS playlists (RFC 8216) for an on-demand transcode session, as text.

Version 3 is enough for everything written here: decimal EXTINF durations are the newest
feature used (RFC 8216 section 7); AVERAGE-BANDWIDTH, FRAME-RATE, INDEPENDENT-SEGMENTS and
subtitle renditions need no higher version. Every URI may carry the session's signed query
string, because a player resolves relative URIs without the parent's query (RFC 3986), so a
token in the master playlist's URL would not reach the segments otherwise.

Quoted strings in HLS have no escape syntax: a line feed, carriage return or double quote
must not appear in one (section 4.2). Names from the catalog (subtitle titles) are therefore
cleaned rather than escaped, and URIs are percent-encoded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from media.hls.variants import SegmentPlan, Variant

__all__ = [
    "SUBTITLE_GROUP",
    "SubtitleRendition",
    "master_playlist",
    "subtitle_playlist",
    "variant_playlist",
]

SUBTITLE_GROUP = "subs"
_VERSION = 3
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\"]+")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
# Everything a URI may hold except the quote, whitespace and controls, kept as it is.
_URI_SAFE = "/:?#[]@!$&'()*+,;=%-._~"


@dataclass(frozen=True, slots=True)
class SubtitleRendition:
    """One WebVTT subtitle track offered beside the variants; ``uri`` is its media playlist."""

    name: str
    language: str | None
    is_default: bool
    is_forced: bool
    autoselect: bool
    uri: str


def master_playlist(
    variants: Sequence[Variant],
    *,
    query: str = "",
    subtitles: Sequence[SubtitleRendition] = (),
) -> str:
    """The multivariant playlist: one EXT-X-STREAM-INF per variant, in the given order (the
    first is where a player starts), and the subtitle group when there are subtitles."""
    if not variants:
        raise ValueError("a master playlist needs at least one variant")
    suffix = _query_suffix(query)
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{_VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    lines.extend(_subtitle_media(subtitles))
    for variant in variants:
        attributes = [
            f"BANDWIDTH={variant.bandwidth}",
            f"AVERAGE-BANDWIDTH={variant.video_bitrate + variant.audio_bitrate}",
        ]
        if variant.width > 0 and variant.height > 0:
            attributes.append(f"RESOLUTION={variant.width}x{variant.height}")
        attributes.append(f'CODECS="{_clean(variant.codecs)}"')
        if variant.frame_rate:
            attributes.append(f"FRAME-RATE={variant.frame_rate:.3f}")
        if subtitles:
            attributes.append(f'SUBTITLES="{SUBTITLE_GROUP}"')
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attributes))
        lines.append(f"{_uri(variant.name)}/index.m3u8{suffix}")
    return "\n".join(lines) + "\n"


def variant_playlist(plan: SegmentPlan, *, query: str = "") -> str:
    """A complete VOD media playlist of ``seg_{n:05d}.ts`` segments, whether made yet or not:
    the segment route makes a missing one on request."""
    suffix = _query_suffix(query)
    lines = _media_header(plan.target_duration)
    for number, duration in enumerate(plan.durations):
        lines.append(f"#EXTINF:{duration:.3f},")
        lines.append(f"seg_{number:05d}.ts{suffix}")
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def subtitle_playlist(duration_seconds: float, vtt_uri: str) -> str:
    """A media playlist whose one segment is the whole WebVTT file: subtitles are small, and
    one file spares the server from cutting cues at segment boundaries."""
    if not duration_seconds > 0:
        raise ValueError("duration must be positive")
    lines = _media_header(max(1, math.ceil(round(duration_seconds, 3))))
    lines.append(f"#EXTINF:{duration_seconds:.3f},")
    lines.append(_uri(vtt_uri))
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _media_header(target_duration: int) -> list[str]:
    return [
        "#EXTM3U",
        f"#EXT-X-VERSION:{_VERSION}",
        f"#EXT-X-TARGETDURATION:{target_duration}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]


def _subtitle_media(subtitles: Sequence[SubtitleRendition]) -> list[str]:
    """EXT-X-MEDIA lines. Names must be unique within the group and at most one rendition may
    be DEFAULT (RFC 8216 4.3.4.1.1); DEFAULT=YES requires AUTOSELECT=YES (4.3.4.1)."""
    lines: list[str] = []
    seen: set[str] = set()
    has_default = False
    for rendition in subtitles:
        name = _clean(rendition.name) or "Subtitles"
        unique, number = name, 2
        while unique in seen:
            unique, number = f"{name} ({number})", number + 1
        seen.add(unique)
        is_default = rendition.is_default and not has_default
        has_default = has_default or is_default
        attributes = [
            "TYPE=SUBTITLES",
            f'GROUP-ID="{SUBTITLE_GROUP}"',
            f'NAME="{unique}"',
        ]
        if rendition.language and _LANGUAGE.match(rendition.language):
            attributes.append(f'LANGUAGE="{rendition.language}"')
        attributes.append(f"DEFAULT={_yes_no(is_default)}")
        attributes.append(f"AUTOSELECT={_yes_no(is_default or rendition.autoselect)}")
        attributes.append(f"FORCED={_yes_no(rendition.is_forced)}")
        attributes.append(f'URI="{_uri(rendition.uri)}"')
        lines.append("#EXT-X-MEDIA:" + ",".join(attributes))
    return lines


def _clean(text: str) -> str:
    """A quoted-string value: controls and double quotes become one space each run."""
    return " ".join(_UNSAFE_NAME.sub(" ", text).split())


def _uri(uri: str) -> str:
    return quote(uri, safe=_URI_SAFE)


def _query_suffix(query: str) -> str:
    query = query.lstrip("?")
    return f"?{quote(query, safe=_URI_SAFE)}" if query else ""


def _yes_no(value: bool) -> str:
    return "YES" if value else "NO"
