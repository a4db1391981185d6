"""Catalog rows for tests, inserted with plain SQL, plus a pool that counts statements.

``insert_*`` take a pool (or connection) and column values, fill sensible defaults and return
the new row's id. ``insert_movie_library`` builds a realistic library set-based, in a handful
of statements, however many movies it holds.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import asyncpg
from asyncpg import introspection

__all__ = [
    "StatementCountingPool",
    "add_credits",
    "add_genres",
    "insert_file",
    "insert_image",
    "insert_item",
    "insert_library",
    "insert_movie_library",
    "insert_scan",
    "insert_stream",
    "refresh_search",
]


async def _insert(executor: Any, table: str, columns: dict[str, Any]) -> uuid.UUID:
    names = ", ".join(f'"{name}"' for name in columns)
    placeholders = ", ".join(f"${index}" for index in range(1, len(columns) + 1))
    row_id: uuid.UUID = await executor.fetchval(
        f"INSERT INTO {table} ({names}) VALUES ({placeholders}) RETURNING id",
        *columns.values(),
    )
    return row_id


async def insert_library(
    executor: Any,
    name: str = "Movies",
    kind: str = "movies",
    root_paths: Sequence[str] = ("/media/movies",),
    **columns: Any,
) -> uuid.UUID:
    return await _insert(
        executor,
        "libraries",
        {"name": name, "kind": kind, "root_paths": list(root_paths), **columns},
    )


async def insert_item(
    executor: Any, library_id: uuid.UUID, title: str, kind: str = "movie", **columns: Any
) -> uuid.UUID:
    columns.setdefault("sort_title", title)
    return await _insert(
        executor,
        "media_items",
        {"library_id": library_id, "kind": kind, "title": title, **columns},
    )


async def insert_file(
    executor: Any, item_id: uuid.UUID, library_id: uuid.UUID, path: str, **columns: Any
) -> uuid.UUID:
    columns.setdefault("raw_path", path.encode())
    columns.setdefault("size", 1_000_000)
    columns.setdefault("mtime_ns", 1_700_000_000_000_000_000)
    return await _insert(
        executor,
        "media_files",
        {"item_id": item_id, "library_id": library_id, "path": path, **columns},
    )


async def insert_stream(
    executor: Any, file_id: uuid.UUID, stream_index: int, type: str, **columns: Any
) -> uuid.UUID:
    return await _insert(
        executor,
        "media_streams",
        {"file_id": file_id, "stream_index": stream_index, "type": type, **columns},
    )


async def insert_image(
    executor: Any, item_id: uuid.UUID, type: str, path: str, **columns: Any
) -> uuid.UUID:
    columns.setdefault("raw_path", path.encode())
    return await _insert(
        executor, "media_images", {"item_id": item_id, "type": type, "path": path, **columns}
    )


async def insert_scan(
    executor: Any, library_id: uuid.UUID, status: str = "queued", **columns: Any
) -> uuid.UUID:
    return await _insert(
        executor, "library_scans", {"library_id": library_id, "status": status, **columns}
    )


async def add_genres(executor: Any, item_id: uuid.UUID, names: Iterable[str]) -> None:
    for name in names:
        await executor.execute(
            "WITH g AS (INSERT INTO genres (name) VALUES ($2) "
            "ON CONFLICT (lower(name)) DO UPDATE SET name = genres.name RETURNING id) "
            "INSERT INTO media_item_genres (item_id, genre_id) SELECT $1, id FROM g",
            item_id,
            name,
        )


async def add_credits(
    executor: Any,
    item_id: uuid.UUID,
    credits: Iterable[tuple[str, str, str | None]],
) -> None:
    """``credits``: (person name, role, character) in billing order."""
    for order, (name, role, character) in enumerate(credits):
        await executor.execute(
            "WITH p AS (INSERT INTO people (name) VALUES ($2) "
            "ON CONFLICT (lower(name)) DO UPDATE SET name = people.name RETURNING id) "
            "INSERT INTO media_item_people (item_id, person_id, role, character, sort_order) "
            "SELECT $1, id, $3, $4, $5 FROM p",
            item_id,
            name,
            role,
            character,
            order,
        )


async def refresh_search(executor: Any, item_ids: Sequence[uuid.UUID] | None = None) -> None:
    """Fill ``search_vector`` (all items when ``item_ids`` is None)."""
    if item_ids is None:
        item_ids = [row["id"] for row in await executor.fetch("SELECT id FROM media_items")]
    await executor.execute("SELECT revenge_refresh_search($1::uuid[])", list(item_ids))


async def insert_movie_library(
    executor: Any,
    movies: int,
    *,
    name: str = "Big Movies",
    files_per_movie: int = 2,
    streams_per_file: int = 3,
    images_per_movie: int = 2,
    genres_per_movie: int = 3,
    people_per_movie: int = 4,
) -> uuid.UUID:
    """A movies library with ``movies`` movies, each with files, streams, images, genres and
    people; set-based SQL, so 200 movies take as long as 2."""
    library_id = await insert_library(executor, name=name, root_paths=["/media/big"])
    await executor.execute(
        "INSERT INTO media_items (library_id, kind, title, sort_title, year, date_added) "
        "SELECT $1, 'movie', 'Movie ' || lpad(n::text, 4, '0'), 'Movie ' || lpad(n::text, 4, '0'),"
        " 1950 + n % 70, now() - n * interval '1 minute' FROM generate_series(1, $2) AS n",
        library_id,
        movies,
    )
    await executor.execute(
        "INSERT INTO media_files (item_id, library_id, path, raw_path, size, mtime_ns, container,"
        " duration_ms, bitrate, part_number)"
        " SELECT i.id, i.library_id, '/media/big/' || i.title || '/part' || p || '.mkv',"
        " convert_to('/media/big/' || i.title || '/part' || p || '.mkv', 'UTF8'),"
        " 4000000000 + p, 1, 'matroska', 3600000, 8000000, p"
        " FROM media_items AS i, generate_series(1, $2) AS p WHERE i.library_id = $1",
        library_id,
        files_per_movie,
    )
    await executor.execute(
        "INSERT INTO media_streams (file_id, stream_index, type, codec, width, height, channels,"
        " language, is_default)"
        " SELECT f.id, s - 1, CASE WHEN s = 1 THEN 'video' WHEN s = 2 THEN 'audio'"
        " ELSE 'subtitle' END,"
        " CASE WHEN s = 1 THEN 'h264' WHEN s = 2 THEN 'aac' ELSE 'subrip' END,"
        " CASE WHEN s = 1 THEN 1920 END, CASE WHEN s = 1 THEN 1080 END,"
        " CASE WHEN s = 2 THEN 6 END, CASE WHEN s > 1 THEN 'eng' END, s <= 2"
        " FROM media_files AS f, generate_series(1, $2) AS s WHERE f.library_id = $1",
        library_id,
        streams_per_file,
    )
    await executor.execute(
        "INSERT INTO media_images (item_id, type, path, raw_path, width, height, blurhash)"
        " SELECT i.id, (ARRAY['poster', 'backdrop', 'thumb', 'logo'])[1 + (k - 1) % 4],"
        " '/data/images/' || i.id || '-' || k || '.jpg',"
        " convert_to('/data/images/' || i.id || '-' || k || '.jpg', 'UTF8'),"
        " 1000, 1500, 'LEHV6nWB2yk8pyo0adR*.7kCMdnj'"
        " FROM media_items AS i, generate_series(1, $2) AS k WHERE i.library_id = $1",
        library_id,
        images_per_movie,
    )
    await executor.execute(
        "INSERT INTO genres (name) SELECT 'Genre ' || g FROM generate_series(1, 10) AS g"
        " ON CONFLICT DO NOTHING"
    )
    await executor.execute(
        "INSERT INTO media_item_genres (item_id, genre_id)"
        " SELECT i.id, g.id FROM media_items AS i"
        " CROSS JOIN LATERAL (SELECT id FROM genres WHERE name LIKE 'Genre %'"
        "  ORDER BY md5(name || i.id::text) LIMIT $2) AS g WHERE i.library_id = $1",
        library_id,
        genres_per_movie,
    )
    await executor.execute(
        "INSERT INTO people (name) SELECT 'Person ' || p FROM generate_series(1, 50) AS p"
        " ON CONFLICT DO NOTHING"
    )
    await executor.execute(
        "INSERT INTO media_item_people (item_id, person_id, role, character, sort_order)"
        " SELECT i.id, p.id, CASE WHEN p.n = 1 THEN 'director' ELSE 'actor' END,"
        " CASE WHEN p.n > 1 THEN 'Character ' || p.n END, p.n"
        " FROM media_items AS i CROSS JOIN LATERAL (SELECT id, row_number() OVER () AS n"
        "  FROM (SELECT id FROM people WHERE name LIKE 'Person %'"
        "  ORDER BY md5(name || i.id::text) LIMIT $2) AS chosen) AS p WHERE i.library_id = $1",
        library_id,
        people_per_movie,
    )
    await executor.execute(
        "SELECT revenge_refresh_search(array_agg(id)) FROM media_items WHERE library_id = $1",
        library_id,
    )
    return library_id


_DRIVER_INTROSPECTION = {
    getattr(introspection, name)
    for name in ("INTRO_LOOKUP_TYPES", "INTRO_LOOKUP_TYPES_13", "TYPE_BY_NAME")
    if hasattr(introspection, name)
}


def _is_driver_introspection(query: str) -> bool:
    """asyncpg looks up unknown types once per connection (switching JIT off around it)."""
    return query in _DRIVER_INTROSPECTION or "'jit'" in query


class StatementCountingPool:
    """Stands in for an ``asyncpg.Pool`` and records every statement run through it.

    It runs the real SQL on the real pool; it only listens (``add_query_logger``).
    ``statements`` are the application's; asyncpg's own once-per-connection type
    introspection is kept apart in ``introspection`` so counts do not depend on which
    pooled connection a loader happened to get.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.statements: list[str] = []
        self.introspection: list[str] = []

    def _log(self, record: Any) -> None:
        if _is_driver_introspection(record.query):
            self.introspection.append(record.query)
        else:
            self.statements.append(record.query)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        async with self.pool.acquire() as connection:
            connection.add_query_logger(self._log)
            try:
                yield connection
            finally:
                connection.remove_query_logger(self._log)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        async with self.acquire() as connection:
            rows: list[Any] = await connection.fetch(query, *args)
            return rows

    async def fetchrow(self, query: str, *args: Any) -> Any:
        async with self.acquire() as connection:
            return await connection.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.acquire() as connection:
            return await connection.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        async with self.acquire() as connection:
            status: str = await connection.execute(query, *args)
            return status
