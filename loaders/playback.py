"""Playback batch loaders: one SQL statement per batch, results in key order.

Built per request for the caller's active profile: ``UserDataByItemIdLoader(pool, profile_id)``
answers that profile's ``user_data`` row for each item id, or None where it has none.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiodataloader import DataLoader

__all__ = ["UserDataByItemIdLoader"]


class UserDataByItemIdLoader(DataLoader[uuid.UUID, Any]):
    """One profile's watch state per item (``user_data`` rows; None for an untouched item)."""

    def __init__(self, pool: asyncpg.Pool, profile_id: uuid.UUID) -> None:
        super().__init__()
        self.pool = pool
        self.profile_id = profile_id

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[Any]:
        rows = await self.pool.fetch(
            "SELECT * FROM user_data WHERE profile_id = $1 AND item_id = ANY($2::uuid[])",
            self.profile_id,
            list(keys),
        )
        by_item = {row["item_id"]: row for row in rows}
        return [by_item.get(key) for key in keys]
