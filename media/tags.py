"""Music tags (ID3, Vorbis comments, MP4 atoms) read with mutagen, forgivingly.

Tags in the wild are messy: "3/12" track numbers, totals in separate fields, several
genres in one string, broken frames. ``read_tags`` never raises on them; a file mutagen
cannot read at all yields a ``TrackTags`` with every field empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import mutagen

__all__ = ["TrackTags", "read_tags"]


# Our name for each MusicBrainz id -> the tag key used by mutagen's easy interfaces and
# by Vorbis comments (Picard's names).
MUSICBRAINZ_KEYS = {
    "recording": "musicbrainz_trackid",
    "release": "musicbrainz_albumid",
    "artist": "musicbrainz_artistid",
    "album_artist": "musicbrainz_albumartistid",
    "release_group": "musicbrainz_releasegroupid",
    "release_track": "musicbrainz_releasetrackid",
}


@dataclass(frozen=True, slots=True)
class TrackTags:
    title: str | None = None
    artist: str | None = None
    album_artist: str | None = None
    album: str | None = None
    track: int | None = None
    track_total: int | None = None
    disc: int | None = None
    disc_total: int | None = None
    year: int | None = None
    genres: tuple[str, ...] = ()
    duration_ms: int | None = None
    musicbrainz_ids: Mapping[str, str] = field(default_factory=dict)


def read_tags(path: str) -> TrackTags:
    """Tags and duration of an audio file; empty fields for whatever cannot be read."""
    try:
        audio = mutagen.File(path, easy=True)
    except Exception:  # mutagen raises many types on damaged files; none is fatal here
        return TrackTags()
    if audio is None:
        return TrackTags()
    duration_ms = _duration_ms(audio)
    tags = getattr(audio, "tags", None)
    if tags is None:
        return TrackTags(duration_ms=duration_ms)

    def first(*keys: str) -> str | None:
        for key in keys:
            values = _values(tags, key)
            if values:
                return values[0]
        return None

    track, track_total = _number_pair(first("tracknumber", "track"))
    disc, disc_total = _number_pair(first("discnumber", "disc"))
    ids = {name: value for name, key in MUSICBRAINZ_KEYS.items() if (value := first(key))}
    return TrackTags(
        title=first("title"),
        artist=first("artist"),
        album_artist=first("albumartist", "album artist", "album_artist"),
        album=first("album"),
        track=track,
        track_total=track_total or _int(first("tracktotal", "totaltracks")),
        disc=disc,
        disc_total=disc_total or _int(first("disctotal", "totaldiscs")),
        year=_year(first("date", "originaldate", "year")),
        genres=_genres(tags),
        duration_ms=duration_ms,
        musicbrainz_ids=ids,
    )


def _values(tags: Any, key: str) -> list[str]:
    try:
        raw = tags[key]
    except Exception:  # missing key, or a key the easy interface does not register
        return []
    items = raw if isinstance(raw, list | tuple) else [raw]
    return [text for item in items if (text := str(item).strip().strip("\x00").strip())]


def _duration_ms(audio: Any) -> int | None:
    length = getattr(getattr(audio, "info", None), "length", None)
    if isinstance(length, int | float) and length > 0:
        return round(length * 1000)
    return None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    match = re.match(r"\s*(\d+)", value)
    return int(match.group(1)) if match else None


def _number_pair(value: str | None) -> tuple[int | None, int | None]:
    """ "3/12" -> (3, 12); "3" -> (3, None); "0" or junk -> None."""
    if value is None:
        return None, None
    number, _, total = value.partition("/")
    parsed_number, parsed_total = _int(number), _int(total)
    return (parsed_number or None), (parsed_total or None)


def _year(value: str | None) -> int | None:
    if value is None:
        return None
    match = re.search(r"\b(1[0-9]{3}|2[0-9]{3})\b", value)
    return int(match.group(1)) if match else None


def _genres(tags: Any) -> tuple[str, ...]:
    genres: list[str] = []
    for value in _values(tags, "genre"):
        for part in re.split(r"\s*[;/\x00]\s*", value):
            if part and part not in genres:
                genres.append(part)
    return tuple(genres)
