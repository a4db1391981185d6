"""SQL of the scanner: turning identified, analysed files into items, files and streams.

Every function takes a connection that the caller holds inside a transaction, so one batch of
files lands together or not at all.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from media.analyze import Analysis
from media.naming import Identification
from media.scanner import KnownFile
from media.walk import WalkEntry

__all__ = [
    "ContainerCache",
    "display_path",
    "insert_file",
    "load_known_files",
    "mark_missing",
    "mark_present",
    "move_file",
    "refresh_items",
    "refresh_ratings",
    "sort_title",
    "update_file",
]

_ARTICLES = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)


def sort_title(title: str) -> str:
    return _ARTICLES.sub("", title.strip()).casefold()


def display_path(raw_path: bytes) -> str:
    """The path as text for people: undecodable bytes become U+FFFD (raw_path keeps them)."""
    return raw_path.decode("utf-8", errors="replace")


def clean_text(value: Any) -> Any:
    """Text PostgreSQL accepts: undecodable bytes of file names become U+FFFD, NULs go."""
    if not isinstance(value, str):
        return value
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text.replace("\x00", "")


def _clean_values(values: dict[str, Any]) -> dict[str, Any]:
    return {key: clean_text(value) for key, value in values.items()}


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


async def load_known_files(
    conn: asyncpg.Connection, library_id: uuid.UUID
) -> dict[bytes, KnownFile]:
    rows = await conn.fetch(
        "SELECT id, item_id, raw_path, size, mtime_ns, oshash, is_missing "
        "FROM media_files WHERE library_id = $1",
        library_id,
    )
    return {
        bytes(r["raw_path"]): KnownFile(
            id=str(r["id"]),
            item_id=str(r["item_id"]),
            raw_path=bytes(r["raw_path"]),
            size=r["size"],
            mtime_ns=r["mtime_ns"],
            oshash=r["oshash"],
            is_missing=r["is_missing"],
        )
        for r in rows
    }


@dataclass(slots=True)
class ContainerCache:
    """Ids of grouping items (series, season, artist, album, movie) made during one scan."""

    ids: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)


async def _upsert_item(
    conn: asyncpg.Connection,
    cache: ContainerCache,
    library_id: uuid.UUID,
    kind: str,
    identity_key: str,
    values: dict[str, Any],
) -> uuid.UUID:
    identity_key = clean_text(identity_key)
    cached = cache.ids.get((kind, identity_key))
    if cached is not None:
        return cached
    values = _clean_values(values)
    columns = list(values)
    placeholders = ", ".join(f"${i + 4}" for i in range(len(columns)))
    fill = ", ".join(f"{c} = coalesce(media_items.{c}, EXCLUDED.{c})" for c in columns)
    sql = (
        f"INSERT INTO media_items (library_id, kind, identity_key, {', '.join(columns)}) "
        f"VALUES ($1, $2, $3, {placeholders}) "
        "ON CONFLICT (library_id, kind, identity_key) WHERE identity_key IS NOT NULL "
        f"DO UPDATE SET is_missing = false, {fill} RETURNING id"
    )
    item_id: uuid.UUID = await conn.fetchval(sql, library_id, kind, identity_key, *values.values())
    cache.ids[(kind, identity_key)] = item_id
    return item_id


def _titled(title: str) -> dict[str, Any]:
    return {"title": title, "sort_title": sort_title(title)}


async def _item_for(
    conn: asyncpg.Connection,
    cache: ContainerCache,
    library_id: uuid.UUID,
    library_kind: str,
    entry: WalkEntry,
    ident: Identification,
    analysis: Analysis,
) -> uuid.UUID:
    stem = os.path.splitext(os.path.basename(entry.path))[0]
    folder = os.path.dirname(entry.raw_path).hex()
    providers = dict(ident.provider_ids)
    if ident.kind == "extra":
        return await _insert_plain(
            conn,
            library_id,
            "video",
            {**_titled(ident.title or stem), "extra_type": ident.extra_type},
        )
    if library_kind == "tv":
        return await _episode_item(conn, cache, library_id, entry, ident, stem, providers)
    if library_kind == "music":
        return await _track_item(conn, cache, library_id, ident, analysis, stem)
    title = ident.title or stem
    key = f"movie:{folder}:{_norm(title)}:{ident.year or ''}"
    return await _upsert_item(
        conn,
        cache,
        library_id,
        "movie",
        key,
        {**_titled(title), "year": ident.year, "provider_ids": providers},
    )


async def _insert_plain(
    conn: asyncpg.Connection, library_id: uuid.UUID, kind: str, values: dict[str, Any]
) -> uuid.UUID:
    values = _clean_values(values)
    columns = list(values)
    placeholders = ", ".join(f"${i + 3}" for i in range(len(columns)))
    item_id: uuid.UUID = await conn.fetchval(
        f"INSERT INTO media_items (library_id, kind, {', '.join(columns)}) "
        f"VALUES ($1, $2, {placeholders}) RETURNING id",
        library_id,
        kind,
        *values.values(),
    )
    return item_id


async def _episode_item(
    conn: asyncpg.Connection,
    cache: ContainerCache,
    library_id: uuid.UUID,
    entry: WalkEntry,
    ident: Identification,
    stem: str,
    providers: dict[str, str],
) -> uuid.UUID:
    series_title = ident.series or "Unknown Series"
    series_key = f"series:{_norm(series_title)}:{ident.series_year or ''}"
    series_id = await _upsert_item(
        conn,
        cache,
        library_id,
        "series",
        series_key,
        {**_titled(series_title), "year": ident.series_year, "provider_ids": providers},
    )
    parent_id = series_id
    if ident.season is not None:
        season_title = "Specials" if ident.season == 0 else f"Season {ident.season}"
        parent_id = await _upsert_item(
            conn,
            cache,
            library_id,
            "season",
            f"season:{series_id}:{ident.season}",
            {
                **_titled(season_title),
                "sort_title": f"{ident.season:04d}",
                "season_number": ident.season,
                "parent_id": series_id,
                "series_id": series_id,
            },
        )
    if ident.episode is not None:
        key = f"episode:{series_id}:{ident.season}:{ident.episode}"
    elif ident.date is not None:
        key = f"episode:{series_id}:date:{ident.date.isoformat()}"
    else:
        key = f"episode:{series_id}:file:{entry.raw_path.hex()}"
    title = ident.title or (ident.date.isoformat() if ident.date else stem)
    aired = ident.date.isoformat() if ident.date else ""
    order = f"{ident.season or 0:04d}{ident.episode or 0:05d}{aired}"
    return await _upsert_item(
        conn,
        cache,
        library_id,
        "episode",
        key,
        {
            "title": title,
            "sort_title": order,
            "season_number": ident.season,
            "episode_number": ident.episode,
            "episode_number_end": ident.episode_end,
            "premiere_date": ident.date,
            "parent_id": parent_id,
            "series_id": series_id,
        },
    )


async def _track_item(
    conn: asyncpg.Connection,
    cache: ContainerCache,
    library_id: uuid.UUID,
    ident: Identification,
    analysis: Analysis,
    stem: str,
) -> uuid.UUID:
    tags = analysis.tags
    artist = (tags and (tags.album_artist or tags.artist)) or ident.artist or "Unknown Artist"
    album = (tags and tags.album) or ident.album or "Unknown Album"
    year = (tags and tags.year) or ident.year
    artist_id = await _upsert_item(
        conn, cache, library_id, "artist", f"artist:{_norm(artist)}", _titled(artist)
    )
    album_id = await _upsert_item(
        conn,
        cache,
        library_id,
        "album",
        f"album:{artist_id}:{_norm(album)}",
        {**_titled(album), "year": year, "parent_id": artist_id, "album_artist": artist},
    )
    title = (tags and tags.title) or ident.title or stem
    track = (tags and tags.track) or ident.track
    disc = (tags and tags.disc) or ident.disc
    track_id = await _insert_plain(
        conn,
        library_id,
        "track",
        {
            "title": title,
            "sort_title": f"{disc or 1:03d}{track or 0:04d}{sort_title(title)}",
            "year": year,
            "track_number": track,
            "disc_number": disc,
            "album_artist": artist,
            "parent_id": album_id,
        },
    )
    if tags and tags.genres:
        await set_genres(conn, track_id, tags.genres, replace=True)
        await set_genres(conn, album_id, tags.genres, replace=False)
    if tags and tags.artist and tags.artist != artist:
        await set_people(conn, track_id, [(tags.artist, "artist", None, 0)], replace=True)
    return track_id


async def set_genres(
    conn: asyncpg.Connection, item_id: uuid.UUID, names: Sequence[str], *, replace: bool
) -> None:
    clean = list(dict.fromkeys(clean_text(n).strip() for n in names if n and n.strip()))
    if replace:
        await conn.execute("DELETE FROM media_item_genres WHERE item_id = $1", item_id)
    if not clean:
        return
    await conn.execute(
        "INSERT INTO genres (name) SELECT unnest($1::text[]) "
        "ON CONFLICT ((lower(name))) DO NOTHING",
        clean,
    )
    await conn.execute(
        "INSERT INTO media_item_genres (item_id, genre_id) "
        "SELECT $1, id FROM genres WHERE lower(name) = ANY($2::text[]) ON CONFLICT DO NOTHING",
        item_id,
        [n.lower() for n in clean],
    )


async def set_people(
    conn: asyncpg.Connection,
    item_id: uuid.UUID,
    credits: Sequence[tuple[str, str, str | None, int]],
    *,
    replace: bool,
) -> None:
    """Credits as (name, role, character, order)."""
    if replace:
        await conn.execute("DELETE FROM media_item_people WHERE item_id = $1", item_id)
    clean = [
        (clean_text(n).strip(), r, clean_text(c), o) for n, r, c, o in credits if n and n.strip()
    ]
    if not clean:
        return
    await conn.execute(
        "INSERT INTO people (name) SELECT unnest($1::text[]) "
        "ON CONFLICT ((lower(name))) DO NOTHING",
        list(dict.fromkeys(n for n, _, _, _ in clean)),
    )
    await conn.execute(
        "INSERT INTO media_item_people (item_id, person_id, role, character, sort_order) "
        "SELECT $1, p.id, c.role, c.character, c.sort_order "
        "FROM unnest($2::text[], $3::text[], $4::text[], $5::int[]) "
        "AS c(name, role, character, sort_order) "
        "JOIN people p ON lower(p.name) = lower(c.name) "
        "ON CONFLICT (item_id, person_id, role) DO NOTHING",
        item_id,
        [n for n, _, _, _ in clean],
        [r for _, r, _, _ in clean],
        [c for _, _, c, _ in clean],
        [o for _, _, _, o in clean],
    )


_STREAM_COLUMNS = (
    "file_id, stream_index, type, codec, profile, level, bit_depth, width, height, frame_rate, "
    "hdr_type, channels, channel_layout, language, title, bitrate, is_default, is_forced"
)


async def _write_streams(conn: asyncpg.Connection, file_id: uuid.UUID, analysis: Analysis) -> None:
    await conn.execute("DELETE FROM media_streams WHERE file_id = $1 AND NOT is_external", file_id)
    if analysis.probe is None:
        return
    await conn.executemany(
        f"INSERT INTO media_streams ({_STREAM_COLUMNS}) VALUES "
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        [
            (
                file_id,
                s.index,
                s.type,
                s.codec,
                s.profile,
                s.level,
                s.bit_depth,
                s.width,
                s.height,
                s.frame_rate,
                s.hdr_type,
                s.channels,
                s.channel_layout,
                clean_text(s.language),
                clean_text(s.title),
                s.bitrate,
                s.is_default,
                s.is_forced,
            )
            for s in analysis.probe.streams
        ],
    )


def _file_values(entry: WalkEntry, analysis: Analysis) -> tuple[Any, ...]:
    probe = analysis.probe
    return (
        display_path(entry.raw_path),
        entry.raw_path,
        entry.size,
        entry.mtime_ns,
        analysis.oshash,
        probe.container if probe else None,
        probe.duration_ms if probe else None,
        probe.bitrate if probe else None,
        clean_text(analysis.error),
    )


async def insert_file(
    conn: asyncpg.Connection,
    cache: ContainerCache,
    library_id: uuid.UUID,
    library_kind: str,
    entry: WalkEntry,
    ident: Identification,
    analysis: Analysis,
) -> uuid.UUID:
    """A file never seen before: find or make its item, then store the file and its streams."""
    item_id = await _item_for(conn, cache, library_id, library_kind, entry, ident, analysis)
    file_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO media_files (item_id, library_id, path, raw_path, size, mtime_ns, oshash, "
        "container, duration_ms, bitrate, probe_error, part_number, version_name, probed_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now()) RETURNING id",
        item_id,
        library_id,
        *_file_values(entry, analysis),
        ident.part,
        clean_text(ident.version),
    )
    await _write_streams(conn, file_id, analysis)
    return item_id


async def update_file(
    conn: asyncpg.Connection, known: KnownFile, entry: WalkEntry, analysis: Analysis
) -> None:
    """A known file whose size or time changed (or a full rescan): probe facts replaced."""
    await conn.execute(
        "UPDATE media_files SET path = $2, raw_path = $3, size = $4, mtime_ns = $5, oshash = $6, "
        "container = $7, duration_ms = $8, bitrate = $9, probe_error = $10, is_missing = false, "
        "missing_since = NULL, probed_at = now() WHERE id = $1",
        uuid.UUID(known.id),
        *_file_values(entry, analysis),
    )
    await _write_streams(conn, uuid.UUID(known.id), analysis)


async def move_file(
    conn: asyncpg.Connection, known: KnownFile, entry: WalkEntry, analysis: Analysis
) -> None:
    """A file that reappeared under another path with the same fingerprint keeps its item."""
    await update_file(conn, known, entry, analysis)


async def mark_missing(conn: asyncpg.Connection, file_ids: Iterable[str]) -> None:
    await conn.execute(
        "UPDATE media_files SET is_missing = true, missing_since = now() "
        "WHERE id = ANY($1::uuid[]) AND NOT is_missing",
        [uuid.UUID(i) for i in file_ids],
    )


async def mark_present(conn: asyncpg.Connection, file_ids: Iterable[str]) -> None:
    await conn.execute(
        "UPDATE media_files SET is_missing = false, missing_since = NULL "
        "WHERE id = ANY($1::uuid[]) AND is_missing",
        [uuid.UUID(i) for i in file_ids],
    )


async def refresh_items(conn: asyncpg.Connection, item_ids: Iterable[uuid.UUID | str]) -> None:
    """Recompute what items derive from their files and children, up to their ancestors."""
    ids = list({uuid.UUID(str(i)) for i in item_ids})
    if not ids:
        return
    ids = [
        r["id"]
        for r in await conn.fetch(
            "WITH RECURSIVE up(id) AS (SELECT unnest($1::uuid[]) UNION "
            "SELECT i.parent_id FROM media_items i JOIN up ON i.id = up.id "
            "WHERE i.parent_id IS NOT NULL) SELECT id FROM up",
            ids,
        )
    ]
    # Items with files: runtime (parts add up, versions don't), error, missing.
    await conn.execute(
        """
        UPDATE media_items i SET
            runtime_ms = coalesce(f.runtime_ms, i.runtime_ms),
            is_missing = f.all_missing,
            error = f.error
        FROM (
            SELECT item_id,
                   bool_and(is_missing) AS all_missing,
                   (array_agg(probe_error ORDER BY probe_error) FILTER (
                        WHERE probe_error IS NOT NULL AND NOT is_missing))[1] AS error,
                   (SELECT sum(d) FROM (
                        SELECT max(f2.duration_ms) AS d FROM media_files f2
                        WHERE f2.item_id = mf.item_id AND NOT f2.is_missing
                        GROUP BY coalesce(f2.part_number, 0)) parts) AS runtime_ms
            FROM media_files mf WHERE item_id = ANY($1::uuid[]) GROUP BY item_id
        ) f
        WHERE i.id = f.item_id
        """,
        ids,
    )
    # Grouping items are missing when every child is.
    for _ in range(3):
        await conn.execute(
            """
            UPDATE media_items i SET is_missing = c.all_missing
            FROM (SELECT parent_id, bool_and(is_missing) AS all_missing FROM media_items
                  WHERE parent_id = ANY($1::uuid[]) AND extra_type IS NULL GROUP BY parent_id) c
            WHERE i.id = c.parent_id AND i.is_missing IS DISTINCT FROM c.all_missing
            """,
            ids,
        )
    await conn.execute("SELECT revenge_refresh_search($1::uuid[])", ids)


async def refresh_ratings(conn: asyncpg.Connection, library_id: uuid.UUID) -> None:
    """The rank each item is judged by: its own, else its series', else its parent's (a
    season or album). One statement over the library, touching only rows that change."""
    await conn.execute(
        """
        UPDATE media_items i SET effective_rating_rank = r.effective
        FROM (
            SELECT c.id, coalesce(c.rating_rank, s.rating_rank, p.rating_rank) AS effective
            FROM media_items c
            LEFT JOIN media_items s ON s.id = c.series_id
            LEFT JOIN media_items p ON p.id = c.parent_id
            WHERE c.library_id = $1
        ) r
        WHERE i.id = r.id AND i.effective_rating_rank IS DISTINCT FROM r.effective
        """,
        library_id,
    )
