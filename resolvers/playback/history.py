"""A profile's watch history (keyset pages) and where to resume a series.

Both read only items the caller may see, like continue watching and next up.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from infra.authz.service import VisibilityFilter
from infra.errors import BadUserInput
from resolvers.playback.user_data import MAX_PAGE, _Params

__all__ = [
    "HistoryEntry",
    "HistoryPage",
    "ResumePoint",
    "decode_cursor",
    "encode_cursor",
    "resume_point",
    "watch_history",
]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    item_id: uuid.UUID
    last_played_at: datetime
    cursor: str


@dataclass(frozen=True, slots=True)
class HistoryPage:
    total_count: int
    entries: list[HistoryEntry]
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.entries[-1].cursor if self.entries else None


@dataclass(frozen=True, slots=True)
class ResumePoint:
    item_id: uuid.UUID
    file_id: uuid.UUID | None
    position_ms: int


def encode_cursor(last_played_at: datetime, item_id: uuid.UUID) -> str:
    raw = json.dumps([last_played_at.isoformat(), str(item_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (last played, item) key a cursor names; ``BadUserInput`` for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, item = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("naive timestamp")
        return when, uuid.UUID(item)
    except (ValueError, TypeError, binascii.Error, UnicodeError) as error:
        raise BadUserInput("after is not a valid cursor", argument="after") from error


# Played or partly played: the profile actually watched some of it.
_WATCHED = (
    "u.profile_id = $1 AND u.last_played_at IS NOT NULL "
    "AND (u.is_played OR u.position_ms > 0 OR u.play_count > 0) AND NOT i.is_missing"
)


async def watch_history(
    pool: asyncpg.Pool,
    profile_id: uuid.UUID,
    visibility: VisibilityFilter,
    first: int,
    after: str | None = None,
) -> HistoryPage:
    """The profile's watched items, most recently played first, ``first`` after ``after``."""
    if not 1 <= first <= MAX_PAGE:
        raise BadUserInput(f"first must be between 1 and {MAX_PAGE}", argument="first")
    key = decode_cursor(after) if after is not None else None
    if visibility.nothing_visible:
        return HistoryPage(total_count=0, entries=[], has_next_page=False)
    params = _Params(profile_id)
    visible = params.visible(visibility)
    base = (
        "FROM user_data AS u JOIN media_items AS i ON i.id = u.item_id WHERE " + _WATCHED + visible
    )
    async with pool.acquire() as conn:
        total: int = await conn.fetchval("SELECT count(*) " + base, *params.values)
        page_params = _Params(*params.values)
        keyset = ""
        if key is not None:
            at = page_params.add(key[0], "timestamptz")
            item = page_params.add(key[1], "uuid")
            keyset = f" AND (u.last_played_at, u.item_id) < ({at}, {item})"
        limit = page_params.add(first + 1, "int")
        rows = await conn.fetch(
            "SELECT u.item_id, u.last_played_at "
            + base
            + keyset
            + f" ORDER BY u.last_played_at DESC, u.item_id DESC LIMIT {limit}",
            *page_params.values,
        )
    entries = [
        HistoryEntry(
            item_id=row["item_id"],
            last_played_at=row["last_played_at"],
            cursor=encode_cursor(row["last_played_at"], row["item_id"]),
        )
        for row in rows[:first]
    ]
    return HistoryPage(total_count=total, entries=entries, has_next_page=len(rows) > first)


_EPISODE_ORDER = "e.season_number NULLS LAST, e.episode_number NULLS LAST, e.id"


async def resume_point(
    pool: asyncpg.Pool, profile_id: uuid.UUID, visibility: VisibilityFilter, series_id: uuid.UUID
) -> ResumePoint | None:
    """Which episode of the series to play and from where: the one in progress, else the next
    unplayed one after the furthest played (season, then episode), else the first; None when
    the series has no episode the caller may see."""
    if visibility.nothing_visible:
        return None
    params = _Params(series_id, profile_id)
    visible = params.visible(visibility, "e")
    rows = await pool.fetch(
        "SELECT e.id, e.season_number, e.episode_number, "
        "coalesce(u.position_ms, 0) AS position_ms, coalesce(u.is_played, false) AS is_played, "
        "u.last_played_at, "
        "(SELECT f.id FROM media_files AS f WHERE f.item_id = e.id AND NOT f.is_missing "
        " ORDER BY f.part_number NULLS FIRST, f.version_name NULLS FIRST, f.path, f.id "
        " LIMIT 1) AS file_id "
        "FROM media_items AS e "
        "LEFT JOIN user_data AS u ON u.item_id = e.id AND u.profile_id = $2 "
        "WHERE e.series_id = $1 AND e.kind = 'episode' AND NOT e.is_missing "
        "AND e.extra_type IS NULL" + visible + " ORDER BY " + _EPISODE_ORDER,
        *params.values,
    )
    if not rows:
        return None
    in_progress = [r for r in rows if r["position_ms"] > 0 and not r["is_played"]]
    if in_progress:
        chosen = max(
            in_progress,
            key=lambda r: (r["last_played_at"] is not None, r["last_played_at"] or 0),
        )
        return _point(chosen, int(chosen["position_ms"]))
    played = [
        index
        for index, r in enumerate(rows)
        if r["is_played"] and r["season_number"] is not None and r["episode_number"] is not None
    ]
    if played:
        furthest = max(played, key=lambda i: (rows[i]["season_number"], rows[i]["episode_number"]))
        mark = (rows[furthest]["season_number"], rows[furthest]["episode_number"])
        for r in rows:
            numbered = r["season_number"] is not None and r["episode_number"] is not None
            if numbered and not r["is_played"] and (r["season_number"], r["episode_number"]) > mark:
                return _point(r, 0)
    return _point(rows[0], 0)


def _point(row: asyncpg.Record, position_ms: int) -> ResumePoint:
    return ResumePoint(item_id=row["id"], file_id=row["file_id"], position_ms=position_ms)
