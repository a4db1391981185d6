"""Listing media items: filters, sorts and keyset pagination.

Every sort ends with the item id, so the order is total and a cursor (the last row's sort-key
values) says exactly where the next page starts: no duplicates or gaps across pages even while
rows are added. Unknown years and dates sort last in both directions.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from infra.authz.service import VisibilityFilter
from infra.errors import BadUserInput
from loaders.visibility import EVERYTHING, visibility_conditions
from resolvers.catalog.cursors import Cursor, decode_cursor, encode_cursor, parse_cursor_value
from resolvers.catalog.search import prefix_tsquery

__all__ = [
    "MAX_PAGE_SIZE",
    "ItemFilter",
    "ItemPage",
    "list_children",
    "list_items",
]

MAX_PAGE_SIZE = 500
SORTS = ("title", "date_added", "year", "premiere_date", "random", "index")
DIRECTIONS = ("asc", "desc")


@dataclass(frozen=True, slots=True)
class ItemFilter:
    library_id: uuid.UUID | None = None
    kinds: Sequence[str] | None = None
    parent_id: uuid.UUID | None = None
    year_from: int | None = None
    year_to: int | None = None
    genre: str | None = None
    text: str | None = None
    include_missing: bool = False
    include_extras: bool = False
    visibility: VisibilityFilter = EVERYTHING


@dataclass(frozen=True, slots=True)
class ItemPage:
    """``count()`` counts the whole filtered set when asked: a page whose total nobody asked
    for costs one statement, and one that is asked runs it beside the page's other loads."""

    rows: list[Any]
    cursors: list[str]
    count: Callable[[], Awaitable[int]]
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


@dataclass(frozen=True, slots=True)
class _Key:
    expression: str
    sql_type: str
    # None follows the requested direction; "asc" pins it (for "unknown values last").
    fixed: str | None = None


_TITLE = _Key("i.sort_title", "text")
_ID = _Key("i.id", "uuid")
_SORT_KEYS: dict[str, tuple[_Key, ...]] = {
    "title": (_TITLE, _ID),
    "date_added": (_Key("i.date_added", "timestamptz"), _ID),
    "year": (
        _Key("(i.year IS NULL)", "bool", fixed="asc"),
        _Key("coalesce(i.year, 0)", "int"),
        _TITLE,
        _ID,
    ),
    "premiere_date": (
        _Key("(i.premiere_date IS NULL)", "bool", fixed="asc"),
        _Key("coalesce(i.premiere_date, DATE '0001-01-01')", "date"),
        _TITLE,
        _ID,
    ),
    # {seed} is replaced by the seed's parameter placeholder.
    "random": (_Key("md5({seed} || i.id::text)", "text"), _ID),
    # Children in their natural order: seasons, episodes, discs and tracks by number.
    "index": (
        _Key("coalesce(i.season_number, i.disc_number, 0)", "int"),
        _Key("coalesce(i.episode_number, i.track_number, 0)", "int"),
        _TITLE,
        _ID,
    ),
}


class _Params:
    """Collects bound parameters and hands out their ``$n`` placeholders."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any, sql_type: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{sql_type}"


def _filter_conditions(item_filter: ItemFilter, params: _Params) -> list[str]:
    conditions: list[str] = []
    if item_filter.library_id is not None:
        conditions.append(f"i.library_id = {params.add(item_filter.library_id, 'uuid')}")
    if item_filter.kinds:
        conditions.append(f"i.kind = ANY({params.add(list(item_filter.kinds), 'text[]')})")
    if item_filter.parent_id is not None:
        conditions.append(f"i.parent_id = {params.add(item_filter.parent_id, 'uuid')}")
    if item_filter.year_from is not None:
        conditions.append(f"i.year >= {params.add(item_filter.year_from, 'int')}")
    if item_filter.year_to is not None:
        conditions.append(f"i.year <= {params.add(item_filter.year_to, 'int')}")
    if item_filter.genre is not None:
        genre = params.add(item_filter.genre, "text")
        conditions.append(
            "EXISTS (SELECT 1 FROM media_item_genres AS ig JOIN genres AS g ON g.id = ig.genre_id"
            f" WHERE ig.item_id = i.id AND lower(g.name) = lower({genre}))"
        )
    if item_filter.text is not None and item_filter.text.strip():
        query = prefix_tsquery(item_filter.text)
        if query is None:
            conditions.append("false")
        else:
            conditions.append(
                f"i.search_vector @@ to_tsquery('simple', {params.add(query, 'text')})"
            )
    if not item_filter.include_missing:
        conditions.append("NOT i.is_missing")
    if not item_filter.include_extras:
        conditions.append("i.extra_type IS NULL")
    conditions += visibility_conditions(item_filter.visibility, params.add)
    return conditions or ["true"]


def _keyset_condition(
    keys: Sequence[_Key],
    expressions: Sequence[str],
    directions: Sequence[str],
    values: Sequence[Any],
    params: _Params,
) -> str:
    """Rows strictly after ``values`` in the order: (k1 > v1) OR (k1 = v1 AND k2 > v2) OR …"""
    placeholders = [
        params.add(parse_cursor_value(value, key.sql_type), key.sql_type)
        for key, value in zip(keys, values, strict=True)
    ]
    alternatives: list[str] = []
    for position in range(len(keys)):
        parts = [f"{expressions[j]} = {placeholders[j]}" for j in range(position)]
        operator = ">" if directions[position] == "asc" else "<"
        parts.append(f"{expressions[position]} {operator} {placeholders[position]}")
        alternatives.append("(" + " AND ".join(parts) + ")")
    return "(" + " OR ".join(alternatives) + ")"


async def list_items(
    pool: asyncpg.Pool,
    item_filter: ItemFilter,
    *,
    sort: str = "title",
    direction: str = "asc",
    first: int = 50,
    after: str | None = None,
) -> ItemPage:
    """One page of items (one statement) and, when asked, the total count of the filtered set."""
    if sort not in SORTS or direction not in DIRECTIONS:
        raise BadUserInput(f"unknown sort {sort} {direction}", argument="sort")
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise BadUserInput(f"first must be between 1 and {MAX_PAGE_SIZE}", argument="first")
    keys = _SORT_KEYS[sort]
    cursor = decode_cursor(after, sort, direction, len(keys)) if after is not None else None
    seed: str | None = None
    if sort == "random":
        seed = cursor.seed if cursor is not None and cursor.seed else secrets.token_hex(8)

    params = _Params()
    conditions = _filter_conditions(item_filter, params)
    count_sql = "SELECT count(*) FROM media_items AS i WHERE " + " AND ".join(conditions)
    count_args = list(params.values)

    seed_placeholder = params.add(seed, "text") if seed is not None else ""
    expressions = [key.expression.replace("{seed}", seed_placeholder) for key in keys]
    directions = [key.fixed or direction for key in keys]
    page_conditions = list(conditions)
    if cursor is not None:
        page_conditions.append(
            _keyset_condition(keys, expressions, directions, cursor.values, params)
        )
    selected = ", ".join(
        f"{expression} AS sort_key_{index}" for index, expression in enumerate(expressions)
    )
    ordering = ", ".join(
        f"{expression} {order.upper()}"
        for expression, order in zip(expressions, directions, strict=True)
    )
    page_sql = (
        f"SELECT i.*, {selected} FROM media_items AS i WHERE "
        + " AND ".join(page_conditions)
        + f" ORDER BY {ordering} LIMIT {params.add(first + 1, 'int')}"
    )

    async def count() -> int:
        async with pool.acquire() as connection:
            total: int = await connection.fetchval(count_sql, *count_args)
        return total

    async with pool.acquire() as connection:
        rows: list[Any] = await connection.fetch(page_sql, *params.values)
    has_next_page = len(rows) > first
    rows = rows[:first]
    cursors = [
        encode_cursor(
            Cursor(
                sort=sort,
                direction=direction,
                values=tuple(row[f"sort_key_{index}"] for index in range(len(keys))),
                seed=seed,
            )
        )
        for row in rows
    ]
    return ItemPage(rows=rows, cursors=cursors, count=count, has_next_page=has_next_page)


async def list_children(
    pool: asyncpg.Pool,
    parent_id: uuid.UUID,
    *,
    first: int = 50,
    after: str | None = None,
    visibility: VisibilityFilter = EVERYTHING,
) -> ItemPage:
    """An item's children (seasons, episodes, albums, tracks) in their natural order."""
    return await list_items(
        pool,
        ItemFilter(parent_id=parent_id, visibility=visibility),
        sort="index",
        first=first,
        after=after,
    )
