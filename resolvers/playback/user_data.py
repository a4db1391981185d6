"""A profile's watch state: marks, favorites, continue watching and next up.

Every read and write checks the item against the caller's visibility conditions, so a kids
profile can neither mark nor list an item it may not see.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from infra.authz.service import VisibilityFilter
from infra.errors import BadUserInput
from loaders.visibility import visibility_conditions
from resolvers.playback.sessions import Viewer

__all__ = [
    "MAX_PAGE",
    "continue_watching",
    "mark_played",
    "mark_unplayed",
    "next_up",
    "rate_item",
    "set_favorite",
]

MAX_PAGE = 100


class _Params:
    """Bound parameters after the fixed ones; ``add`` as ``visibility_conditions`` wants it."""

    def __init__(self, *fixed: Any) -> None:
        self.values: list[Any] = list(fixed)

    def add(self, value: Any, sql_type: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{sql_type}"

    def visible(self, visibility: VisibilityFilter, alias: str = "i") -> str:
        return "".join(f" AND {c}" for c in visibility_conditions(visibility, self.add, alias))


def _check_first(first: int) -> None:
    if not 1 <= first <= MAX_PAGE:
        raise BadUserInput(f"first must be between 1 and {MAX_PAGE}", argument="first")


_UPSERT = (
    "INSERT INTO user_data (user_id, profile_id, item_id, {columns}) "
    "SELECT $1::uuid, $2::uuid, i.id, {values} FROM media_items AS i WHERE i.id = $3{visible} "
    "ON CONFLICT (profile_id, item_id) DO UPDATE SET {updates} RETURNING *"
)


async def _upsert(
    pool: asyncpg.Pool,
    viewer: Viewer,
    visibility: VisibilityFilter,
    item_id: uuid.UUID,
    *,
    columns: str,
    values: str,
    updates: str,
    extra: tuple[Any, ...] = (),
) -> asyncpg.Record | None:
    if visibility.nothing_visible:
        return None
    params = _Params(viewer.user_id, viewer.profile_id, item_id, *extra)
    sql = _UPSERT.format(
        columns=columns, values=values, updates=updates, visible=params.visible(visibility)
    )
    row: asyncpg.Record | None = await pool.fetchrow(sql, *params.values)
    return row


async def mark_played(
    pool: asyncpg.Pool, viewer: Viewer, visibility: VisibilityFilter, item_id: uuid.UUID
) -> asyncpg.Record | None:
    """Played (one more play, not resumable); None when the item is unknown or hidden."""
    return await _upsert(
        pool,
        viewer,
        visibility,
        item_id,
        columns="position_ms, is_played, play_count, last_played_at",
        values="0, true, 1, now()",
        updates="position_ms = 0, is_played = true, play_count = user_data.play_count + 1, "
        "last_played_at = now()",
    )


async def mark_unplayed(
    pool: asyncpg.Pool, viewer: Viewer, visibility: VisibilityFilter, item_id: uuid.UUID
) -> asyncpg.Record | None:
    """Not played and no resume position; the play count is history and stays."""
    return await _upsert(
        pool,
        viewer,
        visibility,
        item_id,
        columns="position_ms, is_played",
        values="0, false",
        updates="position_ms = 0, is_played = false",
    )


# The scale clients show as five stars or ten points; stored as the number the user gave.
MAX_RATING = 10.0


async def rate_item(
    pool: asyncpg.Pool,
    viewer: Viewer,
    visibility: VisibilityFilter,
    item_id: uuid.UUID,
    rating: float | None,
) -> asyncpg.Record | None:
    """The profile's own rating (0 to 10; None clears it); None for an unknown or hidden item."""
    if rating is not None and not (0.0 <= rating <= MAX_RATING):
        raise BadUserInput(f"rating must be between 0 and {MAX_RATING:g}", argument="rating")
    return await _upsert(
        pool,
        viewer,
        visibility,
        item_id,
        columns="rating",
        values="$4::double precision",
        updates="rating = EXCLUDED.rating",
        extra=(rating,),
    )


async def set_favorite(
    pool: asyncpg.Pool,
    viewer: Viewer,
    visibility: VisibilityFilter,
    item_id: uuid.UUID,
    favorite: bool,
) -> asyncpg.Record | None:
    return await _upsert(
        pool,
        viewer,
        visibility,
        item_id,
        columns="is_favorite",
        values="$4::boolean",
        updates="is_favorite = EXCLUDED.is_favorite",
        extra=(favorite,),
    )


async def continue_watching(
    pool: asyncpg.Pool, profile_id: uuid.UUID, visibility: VisibilityFilter, first: int
) -> list[uuid.UUID]:
    """Items the profile can resume, most recently played first."""
    _check_first(first)
    if visibility.nothing_visible:
        return []
    params = _Params(profile_id, first)
    rows = await pool.fetch(
        "SELECT i.id FROM user_data AS u JOIN media_items AS i ON i.id = u.item_id "
        "WHERE u.profile_id = $1 AND u.position_ms > 0 AND NOT u.is_played "
        "AND NOT i.is_missing" + params.visible(visibility) + " "
        "ORDER BY u.last_played_at DESC NULLS LAST, i.id LIMIT $2",
        *params.values,
    )
    return [row["id"] for row in rows]


async def next_up(
    pool: asyncpg.Pool, profile_id: uuid.UUID, visibility: VisibilityFilter, first: int
) -> list[uuid.UUID]:
    """For each series with a played episode, the first unplayed episode after the furthest
    played one (by season, then episode number, so it crosses into the next season); series
    watched most recently first."""
    _check_first(first)
    if visibility.nothing_visible:
        return []
    params = _Params(profile_id, first)
    visible = params.visible(visibility, "n")
    rows = await pool.fetch(
        "WITH played AS ("
        " SELECT e.series_id, e.season_number, e.episode_number, u.last_played_at"
        " FROM user_data AS u JOIN media_items AS e ON e.id = u.item_id"
        " WHERE u.profile_id = $1 AND u.is_played AND e.kind = 'episode'"
        " AND e.series_id IS NOT NULL AND e.season_number IS NOT NULL"
        " AND e.episode_number IS NOT NULL"
        "), furthest AS ("
        " SELECT DISTINCT ON (series_id) series_id, season_number, episode_number"
        " FROM played ORDER BY series_id, season_number DESC, episode_number DESC"
        "), recent AS ("
        " SELECT series_id, max(last_played_at) AS last_played_at FROM played GROUP BY series_id"
        ") "
        "SELECT nxt.id FROM furthest AS f JOIN recent AS r ON r.series_id = f.series_id "
        "CROSS JOIN LATERAL ("
        " SELECT n.id FROM media_items AS n"
        " LEFT JOIN user_data AS nu ON nu.item_id = n.id AND nu.profile_id = $1"
        " WHERE n.series_id = f.series_id AND n.kind = 'episode' AND NOT n.is_missing"
        " AND n.extra_type IS NULL AND NOT coalesce(nu.is_played, false)"
        " AND (n.season_number, n.episode_number) > (f.season_number, f.episode_number)"
        + visible
        + " ORDER BY n.season_number, n.episode_number, n.id LIMIT 1"
        ") AS nxt "
        "ORDER BY r.last_played_at DESC NULLS LAST, f.series_id LIMIT $2",
        *params.values,
    )
    return [row["id"] for row in rows]
