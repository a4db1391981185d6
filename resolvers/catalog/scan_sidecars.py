"""Sidecars: images, NFO files and external subtitles found beside the media.

A sidecar that names a media file (``Movie (2010)-poster.jpg``, ``Episode.en.srt``,
``Episode.nfo``) belongs to that file's item; one that names nothing (``poster.jpg``,
``tvshow.nfo``, ``cover.jpg``, ``season02-poster.jpg``) belongs to what its folder holds: the
movie, series, season, album or artist.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from media.images import ImageInfo
from media.nfo import NfoData
from media.scanner import SidecarAssignment
from resolvers.catalog.scan_store import (
    clean_text,
    display_path,
    set_genres,
    set_people,
    sort_title,
)

__all__ = [
    "ItemTree",
    "apply_image",
    "apply_nfo",
    "apply_subtitle",
    "load_item_tree",
    "rating_rank",
    "rerank",
]


@dataclass(frozen=True, slots=True)
class _Placed:
    file_id: uuid.UUID
    item_id: uuid.UUID
    kind: str
    parent_id: uuid.UUID | None
    series_id: uuid.UUID | None
    season_number: int | None
    extra_type: str | None


class ItemTree:
    """Where every media file of a library sits, to find the item a folder stands for."""

    def __init__(self, rows: Sequence[asyncpg.Record], roots: Sequence[str]) -> None:
        self.by_path: dict[bytes, _Placed] = {}
        self.by_folder: dict[bytes, list[_Placed]] = defaultdict(list)
        self.parents: dict[uuid.UUID, tuple[str, uuid.UUID | None]] = {}
        self.roots = [os.fsencode(r).rstrip(b"/") for r in roots]
        for r in rows:
            placed = _Placed(
                r["file_id"],
                r["item_id"],
                r["kind"],
                r["parent_id"],
                r["series_id"],
                r["season_number"],
                r["extra_type"],
            )
            raw = bytes(r["raw_path"])
            self.by_path[raw] = placed
            self.by_folder[os.path.dirname(raw)].append(placed)
        self.seasons: dict[tuple[uuid.UUID, int], uuid.UUID] = {}

    def _depth(self, folder: bytes) -> int | None:
        for root in self.roots:
            if folder == root:
                return 0
            if folder.startswith(root + b"/"):
                return folder[len(root) :].count(b"/")
        return None

    def _below(self, folder: bytes) -> list[_Placed]:
        prefix = folder + b"/"
        found: list[_Placed] = []
        for other, placed in self.by_folder.items():
            if other == folder or other.startswith(prefix):
                found.extend(placed)
        return found

    def item_for_file(self, raw_path: bytes) -> _Placed | None:
        return self.by_path.get(raw_path)

    def item_for_folder(
        self, folder: bytes, library_kind: str, season: int | None
    ) -> uuid.UUID | None:
        """The one item a folder-level sidecar describes, or None when it is ambiguous."""
        direct = [p for p in self.by_folder.get(folder, []) if p.extra_type is None]
        if library_kind == "tv":
            below = [p for p in self._below(folder) if p.kind == "episode"]
            series = {p.series_id for p in below}
            if len(series) != 1:
                return None
            series_id = next(iter(series))
            if season is not None:
                return self.seasons.get((series_id, season)) if series_id else None
            if self._depth(folder) == 1:
                return series_id
            parents = {p.parent_id for p in direct if p.kind == "episode"}
            if len(parents) == 1 and direct:
                return next(iter(parents))
            return series_id
        if library_kind == "music":
            albums = {p.parent_id for p in direct if p.kind == "track"}
            if len(albums) == 1:
                return next(iter(albums))
            if not direct:
                below = [p for p in self._below(folder) if p.kind == "track"]
                artists = {
                    self.parents.get(p.parent_id, ("", None))[1] for p in below if p.parent_id
                }
                if len(artists) == 1:
                    return next(iter(artists))
            return None
        movies = {p.item_id for p in direct if p.kind == "movie"}
        return next(iter(movies)) if len(movies) == 1 else None


async def load_item_tree(
    conn: asyncpg.Connection, library_id: uuid.UUID, roots: Sequence[str]
) -> ItemTree:
    rows = await conn.fetch(
        "SELECT f.id AS file_id, f.raw_path, i.id AS item_id, i.kind, i.parent_id, i.series_id, "
        "i.season_number, i.extra_type FROM media_files f JOIN media_items i ON i.id = f.item_id "
        "WHERE f.library_id = $1 AND NOT f.is_missing",
        library_id,
    )
    tree = ItemTree(rows, roots)
    for r in await conn.fetch(
        "SELECT id, kind, parent_id, series_id, season_number FROM media_items "
        "WHERE library_id = $1 AND kind IN ('season', 'album')",
        library_id,
    ):
        tree.parents[r["id"]] = (r["kind"], r["parent_id"])
        if r["kind"] == "season" and r["series_id"] is not None:
            tree.seasons[(r["series_id"], r["season_number"])] = r["id"]
    return tree


async def apply_image(
    conn: asyncpg.Connection, item_id: uuid.UUID, assignment: SidecarAssignment, info: ImageInfo
) -> None:
    await conn.execute(
        "INSERT INTO media_images (item_id, type, path, raw_path, width, height, blurhash) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (item_id, raw_path) DO UPDATE SET "
        "type = EXCLUDED.type, width = EXCLUDED.width, height = EXCLUDED.height, "
        "blurhash = EXCLUDED.blurhash",
        item_id,
        assignment.sidecar.image_type or "poster",
        display_path(assignment.entry.raw_path),
        assignment.entry.raw_path,
        info.width,
        info.height,
        info.blurhash,
    )


def rating_as_written(mpaa: str | None) -> str | None:
    """The certificate itself from an NFO's ``<mpaa>``: Kodi and scrapers write "Rated PG-13",
    "US:PG-13" or "US:PG-13 / US:PG-13"; the rank table knows "PG-13"."""
    if not mpaa:
        return None
    text = mpaa.split("/")[0].strip()
    if ":" in text:
        text = text.rsplit(":", 1)[1].strip()
    if text.lower().startswith("rated "):
        text = text[6:].strip()
    return text or None


def rating_rank(ranks: Mapping[str, int], mpaa: str | None) -> int | None:
    """The rank of an NFO's certificate in the policy's table; ``None``: unrated or unknown."""
    written = rating_as_written(mpaa)
    return None if written is None else ranks.get(written.strip().upper())


async def rerank(conn: asyncpg.Connection, library_id: uuid.UUID, ranks: Mapping[str, int]) -> int:
    """Rank the library's rated items again from ``ranks``, so an edited rating table in the
    catalog policy reaches stored ranks at the next scan of any kind; returns how many changed.
    (Effective ranks follow with ``refresh_ratings``.)"""
    rows = await conn.fetch(
        "SELECT id, official_rating, rating_rank FROM media_items "
        "WHERE library_id = $1 AND official_rating IS NOT NULL",
        library_id,
    )
    changed = [
        (row["id"], rank)
        for row in rows
        if (rank := rating_rank(ranks, row["official_rating"])) != row["rating_rank"]
    ]
    if changed:
        await conn.executemany("UPDATE media_items SET rating_rank = $2 WHERE id = $1", changed)
    return len(changed)


async def apply_nfo(
    conn: asyncpg.Connection, item_id: uuid.UUID, nfo: NfoData, ranks: Mapping[str, int]
) -> None:
    """NFO values win over what names and tags said; absent NFO values change nothing. The
    rating's rank comes from ``ranks``, the catalog policy's table."""
    await conn.execute(
        """
        UPDATE media_items SET
            title = coalesce($2, title),
            sort_title = CASE WHEN kind IN ('episode', 'season', 'track') THEN sort_title
                              ELSE coalesce($3, $11, sort_title) END,
            original_title = coalesce($4, original_title),
            year = coalesce($5, year),
            premiere_date = coalesce($6, premiere_date),
            overview = coalesce($7, overview),
            runtime_ms = coalesce(runtime_ms, $8),
            official_rating = coalesce($9, official_rating),
            rating_rank = CASE WHEN $9 IS NULL THEN rating_rank ELSE $12 END,
            tags = CASE WHEN cardinality($13::text[]) = 0 THEN tags ELSE $13 END,
            provider_ids = provider_ids || $10::jsonb
        WHERE id = $1
        """,
        item_id,
        clean_text(nfo.title),
        clean_text(nfo.sort_title.casefold()) if nfo.sort_title else None,
        clean_text(nfo.original_title),
        nfo.year,
        nfo.premiered,
        clean_text(nfo.plot),
        nfo.runtime_minutes * 60_000 if nfo.runtime_minutes else None,
        clean_text(nfo.mpaa),
        dict(nfo.provider_ids),
        clean_text(sort_title(nfo.title)) if nfo.title else None,
        rating_rank(ranks, nfo.mpaa),
        sorted({clean_text(tag).strip().casefold() for tag in nfo.tags if tag.strip()}),
    )
    if nfo.genres:
        await set_genres(conn, item_id, nfo.genres, replace=True)
    if nfo.people:
        await set_people(
            conn,
            item_id,
            [
                (p.name, p.role, p.character, p.order if p.order is not None else i)
                for i, p in enumerate(nfo.people)
            ],
            replace=True,
        )


_SUBTITLE_CODECS = {
    ".srt": "subrip",
    ".ass": "ass",
    ".ssa": "ssa",
    ".vtt": "webvtt",
    ".sub": "microdvd",
    ".idx": "dvd_subtitle",
    ".sup": "hdmv_pgs_subtitle",
}


async def apply_subtitle(
    conn: asyncpg.Connection, file_id: uuid.UUID, assignment: SidecarAssignment
) -> None:
    """An external subtitle becomes a stream of its media file (indexes from 1000 up)."""
    sidecar = assignment.sidecar
    path = display_path(assignment.entry.raw_path)
    existing = await conn.fetchval(
        "SELECT id FROM media_streams WHERE file_id = $1 AND external_path = $2", file_id, path
    )
    if existing is not None:
        return
    await conn.execute(
        "INSERT INTO media_streams (file_id, stream_index, type, codec, language, is_default, "
        "is_forced, is_hearing_impaired, is_external, external_path) "
        "SELECT $1, 1000 + count(*), 'subtitle', $2, $3, $4, $5, $6, true, $7 "
        "FROM media_streams WHERE file_id = $1 AND is_external",
        file_id,
        _SUBTITLE_CODECS.get(os.path.splitext(path)[1].lower()),
        sidecar.language,
        sidecar.default,
        sidecar.forced,
        sidecar.sdh,
        path,
    )
