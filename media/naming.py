"""How a path inside a library is identified, from its name and folders alone.

The layouts are the ones Jellyfin and Kodi document (``Movie (2010)/Movie (2010).mkv``,
``Show/Season 01/Show S01E02 - Title.mkv``, ``Artist/Album (2001)/01 - Title.flac``), implemented
here with our own, deliberately exact rules. Tags inside audio files and NFO contents are read
elsewhere; this module only looks at names, so it is pure, fast (no guessit on the hot path: about
16 ms a call would make a 10,000-file scan take minutes) and never touches the disk.

Rule choices a caller relies on:

* A folder ``Name (Year)`` is authoritative for a movie whose file name carries no year
  (``Movie (2010)/movie.mkv``, ``Movie (2010)/cd1.avi``); a file name with its own year wins.
* A bare year only counts in dotted scene names (``The.Matrix.1999.1080p``) or when release tags
  follow it; ``Blade Runner 2049.mkv`` is a title without a year, as in Jellyfin.
* TV: the show folder is the first folder under ``root``; without ``root`` it is the parent, or the
  grandparent when the parent is a season folder. ``SxxEyy`` and ``NxMM`` in the file name beat the
  season folder. Bare numbers are episodes only when unambiguous: ``Show - 102.mkv`` (absolute
  episode 102, season None) or a leading number inside a season folder (``Season 1/05 - Title.mkv``
  is episode 5). Inside ``Season N`` a 3-4 digit number starting with N drops it (``Season 1/102``
  and ``Season 1/Show - 102`` are episode 2). ``Show 102.mkv`` (no dash), a bare leading number
  outside a season folder, years (1900-2099) and resolutions (``720p``) are never episodes: those
  files come back ``kind="unknown"``, ``reason="no episode number"``.
* ``to_json`` keeps every key; ``Sidecar`` has one field beyond the brief, ``nfo_type``.
* Music: the disc folder (``Disc 2``, ``CD2``) wins over a disc number in the file name.
* Samples (``-sample``, ``sample.mkv``, ``sample/`` folders) are ``kind="ignored"`` with
  ``extra_type="sample"``.
"""

from __future__ import annotations

import datetime
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import babelfish

__all__ = [
    "AUDIO_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "SUBTITLE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "Identification",
    "LibraryKind",
    "Sidecar",
    "classify_sidecar",
    "file_category",
    "identify",
    "is_audio",
    "is_sample",
    "is_video",
]

VIDEO_EXTENSIONS = frozenset("mkv mp4 m4v avi mov wmv ts m2ts webm mpg mpeg flv ogv 3gp".split())
AUDIO_EXTENSIONS = frozenset(
    "mp3 flac m4a aac ogg oga opus wav wma alac aiff ape wv mka dsf".split()
)
IMAGE_EXTENSIONS = frozenset("jpg jpeg png webp gif tbn".split())
SUBTITLE_EXTENSIONS = frozenset("srt ass ssa vtt sub idx sup".split())
DISC_IMAGE_EXTENSIONS = frozenset({"iso"})


class LibraryKind(StrEnum):
    MOVIES = "movies"
    TV = "tv"
    MUSIC = "music"


@dataclass(frozen=True, slots=True)
class Identification:
    """What a path is, as far as its name and folders tell."""

    path: str
    kind: str  # "movie" | "episode" | "track" | "extra" | "ignored" | "unknown"
    title: str | None = None
    year: int | None = None
    series: str | None = None
    series_year: int | None = None
    season: int | None = None
    episode: int | None = None
    episode_end: int | None = None
    date: datetime.date | None = None
    part: int | None = None
    version: str | None = None
    extra_type: str | None = None
    ignored: bool = False
    reason: str | None = None
    provider_ids: Mapping[str, str] = field(default_factory=dict)
    artist: str | None = None
    album: str | None = None
    track: int | None = None
    disc: int | None = None

    def to_json(self) -> str:
        """All keys, in field order; ``date`` as ISO text.

        Non-UTF-8 names (surrogate escapes) come out as ``\\udcXX`` escapes, which ``json.loads``
        turns back into the same string; keep the raw bytes elsewhere if a store rejects them.
        """
        data: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, datetime.date):
                value = value.isoformat()
            elif name == "provider_ids":
                value = dict(value)
            data[name] = value
        return json.dumps(data, ensure_ascii=True)


@dataclass(frozen=True, slots=True)
class Sidecar:
    """A file that describes a media file or its folder: artwork, NFO, or subtitles."""

    category: str  # "image" | "nfo" | "subtitle"
    image_type: str | None = None  # poster, backdrop, thumb, logo, clearart, disc
    season: int | None = None  # season artwork: season01-poster.jpg -> 1, specials -> 0
    base: str | None = None  # the media file stem it belongs to; None for folder-level files
    language: str | None = None  # ISO 639-2/B ("eng", "ger", "fre"), as ffprobe reports streams
    forced: bool = False
    default: bool = False
    sdh: bool = False
    nfo_type: str | None = None  # movie, tvshow, season, album, artist; "item" for <file>.nfo


# --------------------------------------------------------------------------- extensions


def _extension(path: str) -> str:
    name = posixpath.basename(path)
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def is_video(path: str) -> bool:
    return _extension(path) in VIDEO_EXTENSIONS


def is_audio(path: str) -> bool:
    return _extension(path) in AUDIO_EXTENSIONS


def file_category(path: str) -> str | None:
    """``video``, ``audio``, ``image``, ``nfo`` or ``subtitle`` by extension; None otherwise."""
    ext = _extension(path)
    if ext in VIDEO_EXTENSIONS:
        return "video"
    if ext in AUDIO_EXTENSIONS:
        return "audio"
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext == "nfo":
        return "nfo"
    if ext in SUBTITLE_EXTENSIONS:
        return "subtitle"
    return None


# --------------------------------------------------------------------------- shared name rules

_PROVIDER_ID = re.compile(r"[\[{]\s*(tmdb|imdb|tvdb)(?:id)?\s*[-=]\s*([^\]}\s]+)\s*[\]}]", re.I)
_PAREN_YEAR = re.compile(r"[(\[]((?:18|19|20)\d{2})[)\]]")
_BARE_YEAR = re.compile(r"(?:18|19|20)\d{2}")
_BRACKETS = re.compile(r"\[[^\]]*\]|\{[^}]*\}")
# Strong tags end a title wherever they appear; weak ones are also words ("A.Proper.Villain"),
# so they only go when they trail a title that strong tags or a year already ended.
_TAG_WORDS = frozenset(
    """
    480p 576p 720p 1080p 1080i 2160p 4320p hdr hdr10 hdr10+ dovi bluray blu-ray bdrip brrip
    bdremux remux webrip web-dl webdl web-rip hdtv pdtv sdtv dvdrip dvdscr hddvd hdrip xvid divx
    x264 x265 h264 h265 h.264 h.265 hevc avc av1 vp9 aac aac2 ac3 eac3 dts dts-hd dtshd dd5 dd2
    ddp ddp5 dd+ truehd 10bit 8bit 12bit hdcam
    """.split()
)
_WEAK_TAG_WORDS = frozenset(
    """
    proper repack rerip internal limited multi subbed dubbed hc cam telesync nf amzn dsnp hmax
    atvp imax uhd 4k 8k sdr dv atmos dvd5 dvd9 extended unrated remastered
    """.split()
)
_TAG_PATTERN = re.compile(r"\d{3,4}[pi]|[xh]\.?26[45]|\d+bit|ddp?\d\.?\d?|aac\d\.?\d?", re.I)
_SAMPLE_STEM = re.compile(r"^sample$|^sample-|[-._]sample$", re.I)
_STACK = re.compile(
    r"^(?P<base>.*?)[\s._-]*(?<![^\W_])(?:cd|dvd|part|pt|disc|disk)[\s._-]*(?P<n>\d{1,2})$",
    re.I,
)
_HEX_CRC = re.compile(r"^[0-9a-f]{8}$", re.I)

_EXTRA_SUFFIX = re.compile(
    r"^(?P<base>.*?)(?:[-._ ](?P<trailer>trailer)|\s*-\s*(?P<kind>trailer|featurette|"
    r"behindthescenes|deletedscene|deleted|interview|scene|short|clip|other|extra))$",
    re.I,
)
_EXTRA_SUFFIX_TYPES = {"deleted": "deletedscene", "extra": "other"}
_EXTRA_FOLDERS = {
    "trailers": "trailer",
    "extras": "other",
    "featurettes": "featurette",
    "behind the scenes": "behindthescenes",
    "deleted scenes": "deletedscene",
    "interviews": "interview",
    "scenes": "scene",
    "shorts": "short",
    "clips": "clip",
    "other": "other",
}
_SAMPLE_FOLDERS = frozenset({"sample", "samples"})


def _tag_word(token: str) -> str:
    word = token.lower().strip("[]()")
    return word.split("-")[0] if word.count("-") == 1 and word not in _TAG_WORDS else word


def _is_tag(token: str) -> bool:
    word = _tag_word(token)
    return word in _TAG_WORDS or _TAG_PATTERN.fullmatch(word) is not None


def _is_weak_tag(token: str) -> bool:
    return _tag_word(token) in _WEAK_TAG_WORDS


def _extract_ids(text: str) -> tuple[str, dict[str, str]]:
    ids = {match.group(1).lower(): match.group(2) for match in _PROVIDER_ID.finditer(text)}
    return _PROVIDER_ID.sub(" ", text), ids


def _is_dotted(text: str) -> bool:
    return " " not in text.strip() and ("." in text or "_" in text)


def _clean(text: str, dotted: bool | None = None) -> str | None:
    """A readable title: separators to spaces, bracket tags gone, trimmed; None when empty."""
    if dotted is None:
        dotted = _is_dotted(text)
    text = _BRACKETS.sub(" ", text).replace("_", " ")
    if dotted:
        text = text.replace(".", " ")
    text = " ".join(text.split()).strip(" -._,")
    text = re.sub(r"\(\s*\)", "", text).strip(" -._,")
    return text or None


def _cut_tags(text: str) -> str:
    """Drop everything from the first release tag on (``x264-GROUP`` included), then weak tags
    left trailing (``PROPER``)."""
    tokens = re.split(r"([\s._]+)", text)
    end = next(
        (i for i in range(0, len(tokens), 2) if tokens[i] and _is_tag(tokens[i])), len(tokens)
    )
    if end == len(tokens):
        return text
    words = tokens[:end]
    while len(words) > 1 and (
        not words[-1] or _is_weak_tag(words[-1]) or not words[-1].strip(" ._")
    ):
        words.pop()
    return "".join(words)


def _parse_name(text: str) -> tuple[str | None, int | None, str]:
    """Title, year and what followed the year (for versions) from a movie-like name."""
    for match in _PAREN_YEAR.finditer(text):
        prefix = text[: match.start()]
        if _clean(prefix):
            return _clean(_cut_tags(prefix)), int(match.group(1)), text[match.end() :]
    dotted = _is_dotted(text)
    tokens = [token for token in re.split(r"[\s._]+", text) if token]
    first_tag = next((i for i, token in enumerate(tokens) if _is_tag(token)), len(tokens))
    for index in range(min(first_tag, len(tokens) - 1), 0, -1):
        token = tokens[index]
        followed_by_tag = index + 1 == first_tag < len(tokens)
        if _BARE_YEAR.fullmatch(token) and (dotted or followed_by_tag):
            return _clean(" ".join(tokens[:index]), False), int(token), ""
    if first_tag < len(tokens):
        return _clean(_cut_tags(text), dotted), None, ""
    return _clean(text, dotted), None, ""


def is_sample(path: str) -> bool:
    """Scene samples: ``sample.mkv``, ``x-sample.mkv``, ``sample-x.mkv``, or in ``sample/``."""
    if not is_video(path):
        return False
    name = posixpath.basename(path)
    parent = posixpath.basename(posixpath.dirname(path)).lower()
    return bool(_SAMPLE_STEM.search(name.rpartition(".")[0])) or parent in _SAMPLE_FOLDERS


# --------------------------------------------------------------------------- identify


@dataclass(slots=True)
class _Context:
    path: str
    kind: LibraryKind
    folders: list[str]  # under root when root is known, else every folder of the path
    rooted: bool
    stem: str
    ids: dict[str, str]


def identify(path: str, kind: LibraryKind, root: str | None = None) -> Identification:
    """Identify one file of a library of ``kind``; ``root`` is the library folder it sits in."""
    folders, rooted = _folders(path, root)
    name = posixpath.basename(path)
    visible = folders if rooted else folders[-1:]
    if name.startswith(".") or any(folder.startswith(".") for folder in visible):
        return Identification(path, "ignored", ignored=True, reason="hidden")
    ext = _extension(path)
    wanted = AUDIO_EXTENSIONS if kind is LibraryKind.MUSIC else VIDEO_EXTENSIONS
    if ext not in wanted:
        reason = "disc image" if ext in DISC_IMAGE_EXTENSIONS else "not a media file"
        return Identification(path, "ignored", ignored=True, reason=reason)
    if kind is not LibraryKind.MUSIC and is_sample(path):
        return Identification(path, "ignored", extra_type="sample", ignored=True, reason="sample")
    stem = name[: -len(ext) - 1]
    ids: dict[str, str] = {}
    for folder in folders if rooted else folders[-3:]:
        ids.update(_extract_ids(folder)[1])
    stem, file_ids = _extract_ids(stem)
    ids.update(file_ids)
    context = _Context(path, kind, folders, rooted, " ".join(stem.split()), ids)
    if kind is LibraryKind.MUSIC:
        return _identify_track(context)
    extra = _identify_extra(context)
    if extra is not None:
        return extra
    if kind is LibraryKind.TV:
        return _identify_episode(context)
    return _identify_movie(context)


def _folders(path: str, root: str | None) -> tuple[list[str], bool]:
    if root:
        relative = posixpath.relpath(path, root)
        if not relative.startswith(".."):
            return [part for part in relative.split("/")[:-1] if part not in ("", ".")], True
    return [part for part in posixpath.dirname(path).split("/") if part], False


def _split_stack(stem: str) -> tuple[str, int | None]:
    match = _STACK.match(stem)
    if match is None:
        return stem, None
    return match.group("base"), int(match.group("n"))


def _identify_extra(context: _Context) -> Identification | None:
    extra_type: str | None = None
    folders = context.folders
    # The first folder under the root is the movie or show itself, never an extras folder; only
    # the two innermost folders count (Movie/extras/featurettes/x.mkv).
    owner = folders
    lowest = 1 if context.rooted else 0
    for index in range(len(folders) - 1, max(len(folders) - 3, lowest - 1), -1):
        extra_type = _EXTRA_FOLDERS.get(folders[index].lower())
        if extra_type is not None:
            owner = folders[:index]
            break
    stem = context.stem
    if extra_type is None:
        match = _EXTRA_SUFFIX.match(stem)
        if match is None or not match.group("base").strip(" -._"):
            if stem.lower() != "trailer":
                return None
            extra_type, stem = "trailer", ""
        else:
            word = (match.group("trailer") or match.group("kind")).lower()
            extra_type, stem = _EXTRA_SUFFIX_TYPES.get(word, word), match.group("base")
    title, year, _rest = _parse_name(stem) if stem else (None, None, "")
    series, series_year, season = None, None, None
    if context.kind is LibraryKind.TV:
        owner_context = replace(context, folders=owner)
        series, series_year = _show_folder(owner_context)
        season = _folder_season(owner_context)
    return Identification(
        context.path,
        "extra",
        title=title,
        year=year,
        series=series,
        series_year=series_year,
        season=season,
        extra_type=extra_type,
        provider_ids=context.ids,
    )


# --------------------------------------------------------------------------- movies

_GENERIC_STEMS = frozenset({"", "movie", "video", "film", "feature", "main", "title"})


def _identify_movie(context: _Context) -> Identification:
    stem, part = _split_stack(context.stem)
    title, year, rest = _parse_name(stem)
    folder = context.folders[-1] if context.folders else None
    folder_text = _extract_ids(folder)[0].strip() if folder else ""
    folder_title, folder_year, _ = _parse_name(folder_text) if folder_text else (None, None, "")
    version: str | None = None
    version_match = re.match(r"^\s*-\s*(.+)$", rest)
    if version_match:
        version = version_match.group(1).strip() or None
    elif folder_text and stem.lower().startswith(folder_text.lower()):
        after = re.match(r"^\s*-\s*(.+)$", stem[len(folder_text) :])
        if after:
            version = after.group(1).strip() or None
    generic = stem.strip(" -._").lower() in _GENERIC_STEMS
    from_folder = generic or version is not None or (year is None and folder_year is not None)
    if folder_title and from_folder and year is None:
        title, year = folder_title, folder_year
    if not title:
        return Identification(
            context.path, "unknown", part=part, reason="no title", provider_ids=context.ids
        )
    return Identification(
        context.path,
        "movie",
        title=title,
        year=year,
        part=part,
        version=version,
        provider_ids=context.ids,
    )


# --------------------------------------------------------------------------- TV

_SEASON_FOLDER = re.compile(
    r"^(?:season|series|saison|staffel|temporada|stagione)[\s._-]*(\d{1,4})\b|^s(\d{1,4})$",
    re.I,
)
_SPECIALS_FOLDER = re.compile(r"^(?:season[\s._-]*)?specials?$", re.I)
_SXXEYY = re.compile(
    r"(?<![a-z0-9])s(?P<s>\d{1,4})[\s._-]?e(?P<e>\d{1,4})"
    r"(?P<tail>(?:[\s._-]?e\d{1,4}(?![0-9])|-(?:s\d{1,4})?e?\d{1,4}(?![0-9pi]))*)",
    re.I,
)
_NXMM = re.compile(
    r"(?<![a-z0-9])(?P<s>\d{1,2})x(?P<e>\d{2,3})(?P<tail>(?:[x-](?:\d{1,2}x)?\d{2,3}(?![0-9pi]))*)(?![0-9])",
    re.I,
)
_DATE = re.compile(r"(?<![0-9])((?:19|20)\d{2})[-._ ](\d{1,2})[-._ ](\d{1,2})(?![0-9])")
_EPISODE_WORD = re.compile(r"(?<![a-z0-9])(?:episode|ep|e)[\s._-]?(?P<e>\d{1,4})(?![0-9])", re.I)
_LEADING_NUMBER = re.compile(r"^(?P<n>\d{1,4})(?![0-9pi])(?:[\s._-]+(?P<title>.*))?$", re.I)
_DASH_NUMBER = re.compile(
    r"^(?P<series>.+?)\s+-\s+(?P<n>\d{1,4})(?![0-9pi])(?:\s*-\s*(?P<title>.+)|\s*v\d)?$", re.I
)
_FANSUB_GROUP = re.compile(r"^\s*\[[^\]]*\]\s*")
_TRAILING_GROUP = re.compile(r"\s*[\[(](?P<inner>[^\])]*)[\])]\s*$")


def _season_folder(name: str) -> int | None:
    if _SPECIALS_FOLDER.match(name):
        return 0
    match = _SEASON_FOLDER.match(name)
    if match is None:
        return None
    return int(match.group(1) or match.group(2))


def _folder_season(context: _Context) -> int | None:
    """Season from the two innermost folders; never the show folder itself (rooted)."""
    candidates = context.folders[1:] if context.rooted else context.folders
    return next((s for s in map(_season_folder, reversed(candidates[-2:])) if s is not None), None)


def _show_folder(context: _Context) -> tuple[str | None, int | None]:
    folders = context.folders
    if context.rooted:
        show = folders[0] if folders else None
    elif folders and _season_folder(folders[-1]) is not None:
        show = folders[-2] if len(folders) > 1 else None
    else:
        show = folders[-1] if folders else None
    if show is None:
        return None, None
    title, year, _ = _parse_name(_extract_ids(show)[0].strip())
    return title, year


def _strip_tv_noise(stem: str) -> str:
    """Fansub groups in front, CRCs and resolution tags at the back."""
    stem = _FANSUB_GROUP.sub("", stem)
    while True:
        match = _TRAILING_GROUP.search(stem)
        if match is None:
            return stem
        inner = match.group("inner")
        if not (_HEX_CRC.match(inner) or any(_is_tag(t) for t in re.split(r"[\s,]+", inner))):
            return stem
        stem = stem[: match.start()]


def _episode_title(text: str) -> str | None:
    text = text.strip(" -._")
    return _clean(_cut_tags(text)) if text else None


def _range_end(start: int, tail: str) -> int | None:
    numbers = [int(n) for n in re.findall(r"\d+", tail)]
    return numbers[-1] if numbers and numbers[-1] > start else None


def _identify_episode(context: _Context) -> Identification:
    stem, part = _split_stack(context.stem)
    stem = _strip_tv_noise(stem)
    folder_season = _folder_season(context)
    series, series_year = _show_folder(context)
    has_show_folder = series is not None
    season = folder_season
    episode: int | None = None
    episode_end: int | None = None
    date: datetime.date | None = None
    prefix, after = "", ""

    match = _SXXEYY.search(stem) or _NXMM.search(stem)
    if match is not None:
        season, episode = int(match.group("s")), int(match.group("e"))
        episode_end = _range_end(episode, match.group("tail"))
        prefix, after = stem[: match.start()], stem[match.end() :]
    elif (date := _find_date(stem)) is not None:
        date_match = _DATE.search(stem)
        assert date_match is not None
        prefix, after = stem[: date_match.start()], stem[date_match.end() :]
    elif (word := _EPISODE_WORD.search(stem)) is not None:
        episode = int(word.group("e"))
        prefix, after = stem[: word.start()], stem[word.end() :]
    elif (dash := _DASH_NUMBER.match(stem)) is not None and not _looks_like_year(dash["n"]):
        episode = _number_in_season(dash["n"], folder_season)
        prefix, after = dash["series"], dash["title"] or ""
    elif (
        folder_season is not None
        and (lead := _LEADING_NUMBER.match(stem)) is not None
        and not _looks_like_year(lead["n"])
    ):
        episode = _number_in_season(lead["n"], folder_season)
        after = lead["title"] or ""

    file_series, file_year, _ = _parse_name(prefix) if prefix.strip(" -._") else (None, None, "")
    if not has_show_folder:
        series, series_year = file_series, file_year
    title = _episode_title(after)
    kind, reason = "episode", None
    if episode is None and date is None:
        title = _episode_title(stem)
        if season != 0:  # an unnumbered file in Specials is still a special
            kind, reason = "unknown", "no episode number"
    return Identification(
        context.path,
        kind,
        title=title,
        series=series,
        series_year=series_year,
        season=season,
        episode=episode,
        episode_end=episode_end,
        date=date,
        part=part,
        reason=reason,
        provider_ids=context.ids,
    )


def _find_date(stem: str) -> datetime.date | None:
    match = _DATE.search(stem)
    if match is None:
        return None
    try:
        return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _looks_like_year(digits: str) -> bool:
    return len(digits) == 4 and 1900 <= int(digits) <= 2099


def _number_in_season(digits: str, season: int | None) -> int:
    """``102`` inside Season 1 is episode 2; otherwise the number is the episode."""
    if season and len(digits) >= 3 and digits[:-2] == str(season):
        return int(digits[-2:])
    return int(digits)


# --------------------------------------------------------------------------- music

_DISC_FOLDER = re.compile(r"^(?:disc|disk|cd)[\s._-]*(\d{1,2})\b", re.I)
_ALBUM_LEADING_YEAR = re.compile(r"^((?:18|19|20)\d{2})\s*-\s*(?=\S)")
_AUDIO_TAG_GROUP = re.compile(
    r"\s*[\[(](?:[^\])]*\b(?:flac|mp3|aac|alac|ogg|opus|320|v0|v2|24bit|16bit|24-\d+|16-\d+|"
    r"web|cd|vinyl|lossless|hi-res)\b[^\])]*)[\])]",
    re.I,
)
_DISC_TRACK = re.compile(r"^(?P<d>\d{1,2})[-.](?P<t>\d{1,3})(?![0-9])[\s._-]*(?P<rest>.*)$")
_THREE_DIGIT_TRACK = re.compile(r"^(?P<d>[1-9])(?P<t>\d{2})(?![0-9])(?:[\s._-]+(?P<rest>.*))?$")
_TRACK = re.compile(r"^(?P<t>\d{1,2})(?![0-9])(?:[\s._-]+(?P<rest>.*))?$")
_MIDDLE_TRACK = re.compile(r"^.+?\s-\s(?P<t>\d{1,3})\s-\s(?P<rest>.+)$")


def _parse_album(name: str) -> tuple[str | None, int | None]:
    year: int | None = None
    leading = _ALBUM_LEADING_YEAR.match(name)
    if leading:
        year, name = int(leading.group(1)), name[leading.end() :]
    match = _PAREN_YEAR.search(name)
    if match and name[: match.start()].strip():
        year = int(match.group(1))
        name = name[: match.start()] + name[match.end() :]
    name = _AUDIO_TAG_GROUP.sub("", name)
    return " ".join(name.split()).strip(" -") or None, year


def _identify_track(context: _Context) -> Identification:
    folders = list(context.folders)
    disc: int | None = None
    if folders and (disc_match := _DISC_FOLDER.match(folders[-1])):
        disc = int(disc_match.group(1))
        folders.pop()
    album_folder = folders[-1] if folders else None
    artist = folders[-2] if len(folders) > 1 else None
    if artist is None and album_folder and " - " in album_folder:
        artist, album_folder = (part.strip() for part in album_folder.split(" - ", 1))
    album, year = _parse_album(album_folder) if album_folder else (None, None)
    track: int | None = None
    rest = context.stem
    if match := _DISC_TRACK.match(rest):
        disc = disc if disc is not None else int(match["d"])
        track, rest = int(match["t"]), match["rest"]
    elif match := _THREE_DIGIT_TRACK.match(rest):
        disc = disc if disc is not None else int(match["d"])
        track, rest = int(match["t"]), match["rest"] or ""
    elif match := _TRACK.match(rest):
        track, rest = int(match["t"]), match["rest"] or ""
    elif match := _MIDDLE_TRACK.match(rest):
        track, rest = int(match["t"]), match["rest"]
    rest = rest.strip(" -._")
    if artist and rest.lower().startswith(artist.lower() + " - "):
        rest = rest[len(artist) + 3 :].strip()
    return Identification(
        context.path,
        "track",
        title=rest or None,
        year=year,
        artist=artist or None,
        album=album,
        track=track,
        disc=disc,
        provider_ids=context.ids,
    )


# --------------------------------------------------------------------------- sidecars

_IMAGE_NAMES = {
    "poster": "poster",
    "folder": "poster",
    "cover": "poster",
    "default": "poster",
    "movie": "poster",
    "show": "poster",
    "fanart": "backdrop",
    "backdrop": "backdrop",
    "background": "backdrop",
    "art": "backdrop",
    "thumb": "thumb",
    "landscape": "thumb",
    "banner": "banner",
    "logo": "logo",
    "clearlogo": "logo",
    "clearart": "clearart",
    "disc": "disc",
    "discart": "disc",
    "cdart": "disc",
}
_NUMBERED_IMAGE = re.compile(r"^(?P<name>[a-z]+?)[-_]?\d{1,3}$")
_SEASON_IMAGE = re.compile(
    r"^season(?:(?P<n>\d{1,4})|-(?P<specials>specials))(?:-(?P<name>[a-z]+))?$"
)
_FOLDER_NFO = frozenset({"movie", "tvshow", "season", "album", "artist"})
_SUBTITLE_FLAGS = {
    "forced": "forced",
    "foreign": "forced",
    "default": "default",
    "sdh": "sdh",
    "cc": "sdh",
    "hi": "sdh",
}


def classify_sidecar(filename: str) -> Sidecar | None:
    """What a file next to media is for; None when it is not artwork, NFO or a subtitle."""
    name = posixpath.basename(filename)
    stem, dot, ext = name.rpartition(".")
    ext = ext.lower()
    if not dot or not stem:
        return None
    if ext in IMAGE_EXTENSIONS:
        return _classify_image(stem)
    if ext == "nfo":
        lowered = stem.lower()
        if lowered in _FOLDER_NFO:
            return Sidecar("nfo", nfo_type=lowered)
        return Sidecar("nfo", base=stem, nfo_type="item")
    if ext in SUBTITLE_EXTENSIONS:
        return _classify_subtitle(stem)
    return None


def _classify_image(stem: str) -> Sidecar | None:
    lowered = stem.lower()
    if lowered in _IMAGE_NAMES:
        return Sidecar("image", image_type=_IMAGE_NAMES[lowered])
    numbered = _NUMBERED_IMAGE.match(lowered)
    if numbered and numbered["name"] in _IMAGE_NAMES:
        return Sidecar("image", image_type=_IMAGE_NAMES[numbered["name"]])
    season = _SEASON_IMAGE.match(lowered)
    if season:
        image_type = _IMAGE_NAMES.get(season["name"] or "poster")
        if image_type is None:
            return None
        number = 0 if season["specials"] else int(season["n"])
        return Sidecar("image", image_type=image_type, season=number)
    if lowered.startswith("season-all"):
        return None  # Kodi's "all seasons" art: no single season to attach it to
    base, dash, kind = stem.rpartition("-")
    if dash and base and kind.lower() in _IMAGE_NAMES:
        return Sidecar("image", image_type=_IMAGE_NAMES[kind.lower()], base=base)
    return Sidecar("image", base=stem)  # <file>.jpg: its role depends on what it sits beside


def _classify_subtitle(stem: str) -> Sidecar:
    tokens = stem.split(".")
    language: str | None = None
    flags: set[str] = set()
    hi_as_flag = False
    while len(tokens) > 1:
        token = tokens[-1].lower()
        if token in _SUBTITLE_FLAGS and _SUBTITLE_FLAGS[token] not in flags:
            flags.add(_SUBTITLE_FLAGS[token])
            hi_as_flag = hi_as_flag or token == "hi"
        elif language is None and (code := _language(token)) is not None:
            language = code
        else:
            break
        tokens.pop()
    if hi_as_flag and language is None:
        flags.discard("sdh")  # "Movie.hi.srt" is Hindi, not hearing-impaired
        language = "hin"
    return Sidecar(
        "subtitle",
        base=".".join(tokens),
        language=language,
        forced="forced" in flags,
        default="default" in flags,
        sdh="sdh" in flags,
    )


def _language(token: str) -> str | None:
    """ISO 639-2/B code for ``en``, ``eng``, ``fre``/``fra``, ``pt-BR``, ``English``."""
    attempts: list[tuple[str, str]] = []
    if len(token) == 2:
        attempts.append(("fromalpha2", token))
    elif len(token) == 3:
        attempts += [("fromalpha3b", token), ("alpha3t", token)]
    elif re.fullmatch(r"[a-z]{2,3}[-_][a-z0-9]{2,8}", token):
        attempts.append(("fromietf", token.replace("_", "-")))
    elif token.isalpha() and len(token) > 3:
        attempts.append(("fromname", token))
    for method, value in attempts:
        try:
            if method == "alpha3t":
                language = babelfish.Language.fromcode(value, "alpha3t")
            else:
                language = getattr(babelfish.Language, method)(value)
        except (ValueError, KeyError, babelfish.Error):
            continue
        try:
            return str(language.alpha3b)
        except babelfish.Error:
            return str(language.alpha3)
    return None
