"""Catalog batch loaders: one SQL statement per batch, results in key order.

Built per request (``Loaders(pool).catalog``). Rows are asyncpg records; single-row loaders
give None for an unknown key, list loaders give [].
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

import asyncpg
from aiodataloader import DataLoader

from infra.authz.service import VisibilityFilter
from loaders.peek import PeekableLoader
from loaders.visibility import EVERYTHING, AddParam, library_condition, visibility_conditions

__all__ = [
    "CatalogLoaders",
    "CreditsByItemIdLoader",
    "FilesByItemIdLoader",
    "GenresByItemIdLoader",
    "ImagesByItemIdLoader",
    "ItemCountByLibraryIdLoader",
    "LatestScanByLibraryIdLoader",
    "LibraryByIdLoader",
    "MediaItemByIdLoader",
    "ScanByIdLoader",
    "StreamsByFileIdLoader",
]

Row = Any
# Items a library "holds" in its grid: what the scanner creates at the top of each kind.
TOP_LEVEL_KINDS = ["movie", "series", "artist", "album"]


class _PoolLoader(PeekableLoader[uuid.UUID, Any]):
    """A loader over the pool whose cache can be read without waiting (``peek``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__()
        self.pool = pool


class _RowByIdLoader(_PoolLoader):
    sql = ""
    key_column = "id"

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[Row | None]:
        rows = await self.pool.fetch(self.sql, list(keys))
        by_key = {row[self.key_column]: row for row in rows}
        return [by_key.get(key) for key in keys]


class _RowsByKeyLoader(_PoolLoader):
    sql = ""
    key_column = ""

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[list[Row]]:
        rows = await self.pool.fetch(self.sql, list(keys))
        grouped: dict[uuid.UUID, list[Row]] = defaultdict(list)
        for row in rows:
            grouped[row[self.key_column]].append(row)
        return [grouped.get(key, []) for key in keys]


class _VisibleRowByIdLoader(_RowByIdLoader):
    """Rows the request's principal may see; others load as None, like unknown ids."""

    def __init__(self, pool: asyncpg.Pool, visibility: VisibilityFilter) -> None:
        super().__init__(pool)
        params: list[Any] = []

        def add(value: Any, sql_type: str) -> str:
            params.append(value)
            return f"${len(params) + 1}::{sql_type}"

        conditions = self.conditions(visibility, add)
        self.visible_sql = self.sql + "".join(f" AND {c}" for c in conditions)
        self.visible_params = params

    def conditions(self, visibility: VisibilityFilter, add: AddParam) -> list[str]:
        return []

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[Row | None]:
        rows = await self.pool.fetch(self.visible_sql, list(keys), *self.visible_params)
        by_key = {row[self.key_column]: row for row in rows}
        return [by_key.get(key) for key in keys]


class MediaItemByIdLoader(_VisibleRowByIdLoader):
    sql = "SELECT * FROM media_items AS i WHERE i.id = ANY($1::uuid[])"

    def conditions(self, visibility: VisibilityFilter, add: AddParam) -> list[str]:
        return visibility_conditions(visibility, add)


class LibraryByIdLoader(_VisibleRowByIdLoader):
    sql = "SELECT * FROM libraries AS l WHERE l.id = ANY($1::uuid[])"

    def conditions(self, visibility: VisibilityFilter, add: AddParam) -> list[str]:
        return library_condition(visibility, add, "l.id")


class ScanByIdLoader(_RowByIdLoader):
    sql = "SELECT * FROM library_scans WHERE id = ANY($1::uuid[])"


class LatestScanByLibraryIdLoader(_RowByIdLoader):
    sql = (
        "SELECT DISTINCT ON (library_id) * FROM library_scans WHERE library_id = ANY($1::uuid[]) "
        "ORDER BY library_id, created_at DESC, id DESC"
    )
    key_column = "library_id"


class ItemCountByLibraryIdLoader(DataLoader[uuid.UUID, int]):
    """Top-level items (movies, series, artists and albums), not extras, not missing, that the
    request's principal may see."""

    def __init__(self, pool: asyncpg.Pool, visibility: VisibilityFilter = EVERYTHING) -> None:
        super().__init__()
        self.pool = pool
        self.params: list[Any] = []

        def add(value: Any, sql_type: str) -> str:
            self.params.append(value)
            return f"${len(self.params) + 2}::{sql_type}"

        self.visible = "".join(f" AND {c}" for c in visibility_conditions(visibility, add))

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[int]:
        rows = await self.pool.fetch(
            "SELECT library_id, count(*) AS item_count FROM media_items AS i "
            "WHERE library_id = ANY($1::uuid[]) AND kind = ANY($2::text[]) "
            "AND extra_type IS NULL AND NOT is_missing" + self.visible + " GROUP BY library_id",
            list(keys),
            TOP_LEVEL_KINDS,
            *self.params,
        )
        counts: dict[uuid.UUID, int] = {row["library_id"]: row["item_count"] for row in rows}
        return [counts.get(key, 0) for key in keys]


class FilesByItemIdLoader(_RowsByKeyLoader):
    sql = (
        "SELECT * FROM media_files WHERE item_id = ANY($1::uuid[]) "
        "ORDER BY item_id, part_number NULLS FIRST, version_name NULLS FIRST, path, id"
    )
    key_column = "item_id"


class StreamsByFileIdLoader(_RowsByKeyLoader):
    sql = (
        "SELECT * FROM media_streams WHERE file_id = ANY($1::uuid[]) ORDER BY file_id, stream_index"
    )
    key_column = "file_id"


class ImagesByItemIdLoader(_RowsByKeyLoader):
    sql = (
        "SELECT * FROM media_images WHERE item_id = ANY($1::uuid[]) "
        "ORDER BY item_id, type, created_at, id"
    )
    key_column = "item_id"


class GenresByItemIdLoader(_RowsByKeyLoader):
    sql = (
        "SELECT ig.item_id, g.* FROM media_item_genres AS ig "
        "JOIN genres AS g ON g.id = ig.genre_id "
        "WHERE ig.item_id = ANY($1::uuid[]) ORDER BY ig.item_id, lower(g.name)"
    )
    key_column = "item_id"


class CreditsByItemIdLoader(_RowsByKeyLoader):
    sql = (
        "SELECT ip.item_id, ip.role, ip.character, ip.sort_order, "
        "p.id AS person_id, p.name AS person_name "
        "FROM media_item_people AS ip JOIN people AS p ON p.id = ip.person_id "
        "WHERE ip.item_id = ANY($1::uuid[]) ORDER BY ip.item_id, ip.sort_order, lower(p.name)"
    )
    key_column = "item_id"


class CatalogLoaders:
    """The catalog's loaders for one request, each made when a resolver first asks for it: a
    request that touches none (a heartbeat) pays for none. ``visibility`` may be given as a
    function, called once, when first needed: working out what a user may see reads the
    authorization rules, which most mutations never need."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        visibility: VisibilityFilter | Callable[[], VisibilityFilter] = EVERYTHING,
    ) -> None:
        self.pool = pool
        self._visibility = visibility

    @cached_property
    def visibility(self) -> VisibilityFilter:
        given = self._visibility
        return given if isinstance(given, VisibilityFilter) else given()

    @cached_property
    def media_item_by_id(self) -> MediaItemByIdLoader:
        return MediaItemByIdLoader(self.pool, self.visibility)

    @cached_property
    def library_by_id(self) -> LibraryByIdLoader:
        return LibraryByIdLoader(self.pool, self.visibility)

    @cached_property
    def scan_by_id(self) -> ScanByIdLoader:
        return ScanByIdLoader(self.pool)

    @cached_property
    def latest_scan_by_library_id(self) -> LatestScanByLibraryIdLoader:
        return LatestScanByLibraryIdLoader(self.pool)

    @cached_property
    def item_count_by_library_id(self) -> ItemCountByLibraryIdLoader:
        return ItemCountByLibraryIdLoader(self.pool, self.visibility)

    @cached_property
    def files_by_item_id(self) -> FilesByItemIdLoader:
        return FilesByItemIdLoader(self.pool)

    @cached_property
    def streams_by_file_id(self) -> StreamsByFileIdLoader:
        return StreamsByFileIdLoader(self.pool)

    @cached_property
    def images_by_item_id(self) -> ImagesByItemIdLoader:
        return ImagesByItemIdLoader(self.pool)

    @cached_property
    def genres_by_item_id(self) -> GenresByItemIdLoader:
        return GenresByItemIdLoader(self.pool)

    @cached_property
    def credits_by_item_id(self) -> CreditsByItemIdLoader:
        return CreditsByItemIdLoader(self.pool)
