"""Kodi-style NFO files, parsed without trusting them.

NFOs come from anywhere (release groups, other media managers), so the XML parser never
expands entities, never loads a DTD and never touches the network: a billion-laughs
document or an external ``SYSTEM`` entity stays an unexpanded reference. Kodi also
accepts a provider URL after the XML, or a file that is only a URL; both are handled.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from lxml import etree

__all__ = ["NfoData", "NfoError", "NfoPerson", "parse_nfo"]

MAX_NFO_BYTES = 5 * 1024 * 1024

ROOTS = ("movie", "tvshow", "episodedetails", "musicvideo", "album", "artist", "season")


class NfoError(Exception):
    """An NFO that cannot be used; the message is one readable line."""


@dataclass(frozen=True, slots=True)
class NfoPerson:
    name: str
    role: str  # "actor" | "director" | "writer" | "producer" | "composer"
    character: str | None = None
    order: int | None = None


@dataclass(frozen=True, slots=True)
class NfoData:
    root: str | None  # None for a URL-only NFO whose URL does not say movie or series
    title: str | None = None
    original_title: str | None = None
    sort_title: str | None = None
    year: int | None = None
    premiered: date | None = None
    plot: str | None = None
    runtime_minutes: int | None = None
    genres: tuple[str, ...] = ()
    people: tuple[NfoPerson, ...] = ()
    provider_ids: Mapping[str, str] = field(default_factory=dict)
    season: int | None = None
    episode: int | None = None
    episode_end: int | None = None  # last episode of a multi-episode NFO
    studios: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    mpaa: str | None = None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


_ROOT_PATTERN = "|".join(ROOTS)
_OPEN_ROOT = re.compile(rf"<({_ROOT_PATTERN})(?=[\s/>])", re.IGNORECASE)
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_ENCODING = re.compile(r"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_IMDB_ID = re.compile(r"^tt\d{7,}$")
_URL_IDS = (
    (re.compile(r"imdb\.com/(?:[a-z]{2}/)?title/(tt\d{7,})", re.IGNORECASE), "imdb", None),
    (re.compile(r"themoviedb\.org/movie/(\d+)", re.IGNORECASE), "tmdb", "movie"),
    (re.compile(r"themoviedb\.org/tv/(\d+)", re.IGNORECASE), "tmdb", "tvshow"),
    (
        re.compile(r"thetvdb\.com/(?:.*[?&](?:series)?id=|dereferrer/series/)(\d+)", re.I),
        "tvdb",
        "tvshow",
    ),
)
_CREW_TAGS = {
    "director": "director",
    "credits": "writer",
    "writer": "writer",
    "producer": "producer",
    "composer": "composer",
}


def parse_nfo(path: str) -> NfoData:
    """Parse a movie, show, episode, music video, album, artist or season NFO."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_NFO_BYTES + 1)
    except OSError as error:
        raise NfoError(f"cannot read NFO: {error.strerror or error}") from None
    if len(raw) > MAX_NFO_BYTES:
        raise NfoError(f"NFO larger than {MAX_NFO_BYTES // (1024 * 1024)} MiB")
    text = _decode(raw).strip()
    if not text:
        raise NfoError("empty NFO")
    if not text.startswith("<"):
        return _from_urls(text)
    documents, trailing = _split_documents(_DECLARATION.sub("", text, count=1))
    roots = [_parse_xml(document) for document in documents]
    first = roots[0]
    name = _local(first.tag)
    if name not in ROOTS:
        raise NfoError(f"unsupported NFO root element <{name}>")
    data = _from_element(first, name)
    url_ids = _ids_from_urls(trailing)[0]
    if url_ids:
        merged = dict(url_ids)
        merged.update(data.provider_ids)
        data = replace(data, provider_ids=merged)
    episodes = [_int(_child_text(r, "episode")) for r in roots if _local(r.tag) == name]
    numbered = [e for e in episodes if e is not None]
    if name == "episodedetails" and len(numbered) > 1:
        data = replace(data, episode=numbered[0], episode_end=numbered[-1])
    return data


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    declared = _ENCODING.search(raw[:200].decode("ascii", errors="replace"))
    encoding = declared.group(1) if declared else "utf-8"
    try:
        return raw.decode(encoding, errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def _split_documents(text: str) -> tuple[list[str], str]:
    """The XML document(s) (several for multi-episode NFOs) and any text after them."""
    documents: list[str] = []
    position = 0
    while True:
        opening = _OPEN_ROOT.search(text, position)
        if opening is None:
            break
        if documents and opening.start() != len(text) - len(text[position:].lstrip()):
            break  # something other than another root element follows
        closing = re.compile(rf"</{opening.group(1)}\s*>", re.IGNORECASE).search(
            text, opening.end()
        )
        if closing is None:
            break
        # The first document keeps its prolog (DOCTYPE, comments); later ones start at <root.
        documents.append(text[opening.start() if documents else 0 : closing.end()])
        position = closing.end()
    if not documents:
        return [text], ""
    return documents, text[position:]


def _parse_xml(document: str) -> etree._Element:
    try:
        return etree.fromstring(document.encode("utf-8"), _parser())
    except etree.XMLSyntaxError as error:
        message = str(error).splitlines()[0] if str(error) else "syntax error"
        raise NfoError(f"malformed NFO: {message}") from None


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _elements(parent: etree._Element, name: str) -> Iterator[etree._Element]:
    for child in parent:
        if _local(child.tag) == name:
            yield child


def _text(element: etree._Element | None) -> str | None:
    """Text directly inside the element; unexpanded entity references are dropped."""
    if element is None or not isinstance(element.tag, str):
        return None
    parts = [element.text or ""]
    parts.extend(child.tail or "" for child in element)
    value = "".join(parts).strip()
    return value or None


def _child_text(parent: etree._Element, name: str) -> str | None:
    for child in _elements(parent, name):
        value = _text(child)
        if value is not None:
            return value
    return None


def _all_text(parent: etree._Element, name: str) -> tuple[str, ...]:
    values: list[str] = []
    for child in _elements(parent, name):
        value = _text(child)
        if value is None:
            continue
        for part in re.split(r"\s+/\s+|\s*\|\s*", value):
            if part.strip() and part.strip() not in values:
                values.append(part.strip())
    return tuple(values)


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    match = re.match(r"\s*(-?\d+)", value)
    return int(match.group(1)) if match else None


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _from_element(root: etree._Element, name: str) -> NfoData:
    premiered = _date(
        _child_text(root, "premiered")
        or _child_text(root, "aired")
        or _child_text(root, "releasedate")
    )
    year = _int(_child_text(root, "year"))
    if year is None or not 1800 <= year <= 2999:
        year = premiered.year if premiered else None
    title_tag = "name" if name == "artist" else "title"
    return NfoData(
        root=name,
        title=_child_text(root, title_tag) or _child_text(root, "title"),
        original_title=_child_text(root, "originaltitle"),
        sort_title=_child_text(root, "sorttitle"),
        year=year,
        premiered=premiered,
        plot=_child_text(root, "plot") or _child_text(root, "outline"),
        runtime_minutes=_int(_child_text(root, "runtime")),
        genres=_all_text(root, "genre"),
        people=_people(root),
        provider_ids=_provider_ids(root, name),
        season=_int(_child_text(root, "season")),
        episode=_int(_child_text(root, "episode")),
        studios=_all_text(root, "studio"),
        tags=_all_text(root, "tag"),
        mpaa=_child_text(root, "mpaa"),
    )


def _people(root: etree._Element) -> tuple[NfoPerson, ...]:
    people: list[NfoPerson] = []
    for position, actor in enumerate(_elements(root, "actor")):
        name = _child_text(actor, "name")
        if name is None:
            continue
        order = _int(_child_text(actor, "order"))
        people.append(
            NfoPerson(
                name=name,
                role="actor",
                character=_child_text(actor, "role"),
                order=position if order is None else order,
            )
        )
    for tag, role in _CREW_TAGS.items():
        for position, element in enumerate(_elements(root, tag)):
            # Kodi writes <director>Name</director>; some tools nest <name>.
            name = _child_text(element, "name") or _text(element)
            if name is not None:
                people.append(NfoPerson(name=name, role=role, order=position))
    return tuple(people)


def _provider_ids(root: etree._Element, name: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    for element in _elements(root, "uniqueid"):
        kind = (element.get("type") or "").strip().lower()
        value = _text(element)
        if kind and value and kind not in ids:
            ids[kind] = value
    for tag, kind in (("tmdbid", "tmdb"), ("imdbid", "imdb"), ("imdb_id", "imdb")):
        value = _child_text(root, tag)
        if value and kind not in ids:
            ids[kind] = value
    value = _child_text(root, "tvdbid")
    if value and "tvdb" not in ids:
        ids["tvdb"] = value
    legacy = _child_text(root, "id")
    if legacy and _IMDB_ID.match(legacy) and "imdb" not in ids:
        ids["imdb"] = legacy
    return ids


def _ids_from_urls(text: str) -> tuple[dict[str, str], str | None]:
    ids: dict[str, str] = {}
    root: str | None = None
    for url in _URL.findall(text):
        for pattern, kind, kind_root in _URL_IDS:
            match = pattern.search(url)
            if match and kind not in ids:
                ids[kind] = match.group(1)
                root = root or kind_root
    return ids, root


def _from_urls(text: str) -> NfoData:
    ids, root = _ids_from_urls(text)
    if not ids:
        raise NfoError("not an NFO: neither XML nor a provider URL")
    return NfoData(root=root, provider_ids=ids)
