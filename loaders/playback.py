"""Playback batch loaders: one SQL statement per batch, results in key order.

Built per request for the caller's active profile and visibility:
``UserDataByItemIdLoader(pool, profile_id, visibility)`` answers, for each item id, the profile's
watch state of an item the caller may see (``ItemUserData``), or None for an item hidden from
the caller or unknown — so the playback subgraph's federation reference and ``userData`` apply
the catalog's visibility in the same single statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from infra.authz.service import VisibilityFilter
from loaders.peek import PeekableLoader
from loaders.visibility import EVERYTHING, visibility_conditions

__all__ = ["ItemUserData", "UserDataByItemIdLoader"]


@dataclass(frozen=True, slots=True)
class ItemUserData:
    """A visible item's watch state for one profile: its ``user_data`` row, None when the
    profile never touched the item."""

    row: Any


class UserDataByItemIdLoader(PeekableLoader[uuid.UUID, ItemUserData | None]):
    """One profile's watch state per item (None for an item the caller may not see)."""

    def __init__(
        self, pool: asyncpg.Pool, profile_id: uuid.UUID, visibility: VisibilityFilter = EVERYTHING
    ) -> None:
        super().__init__()
        self.pool = pool
        self.profile_id = profile_id
        self.visibility = visibility

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[ItemUserData | None]:
        if self.visibility.nothing_visible:
            return [None] * len(keys)
        params: list[Any] = [self.profile_id, list(keys)]

        def add(value: Any, sql_type: str) -> str:
            params.append(value)
            return f"${len(params)}::{sql_type}"

        conditions = ["i.id = ANY($2::uuid[])", *visibility_conditions(self.visibility, add)]
        rows = await self.pool.fetch(
            "SELECT i.id AS visible_item_id, u.* FROM media_items AS i "
            "LEFT JOIN user_data AS u ON u.profile_id = $1 AND u.item_id = i.id "
            "WHERE " + " AND ".join(conditions),
            *params,
        )
        by_item = {
            row["visible_item_id"]: ItemUserData(row if row["profile_id"] is not None else None)
            for row in rows
        }
        return [by_item.get(key) for key in keys]
