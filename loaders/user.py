"""Account batch loaders: one SQL statement per batch, results in key order.

The gateway's ``Loaders`` does not build these; ``user_loaders(context)`` makes them on first
use and keeps them in the request's ``state``, so they stay request-scoped like every loader.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg
from aiodataloader import DataLoader

__all__ = ["ProfilesByUserIdLoader", "UserByIdLoader", "UserLoaders", "user_loaders"]

Row = Any


class UserByIdLoader(DataLoader[uuid.UUID, Row | None]):
    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__()
        self.pool = pool

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[Row | None]:
        rows = await self.pool.fetch("SELECT * FROM users WHERE id = ANY($1::uuid[])", list(keys))
        by_id = {row["id"]: row for row in rows}
        return [by_id.get(key) for key in keys]


class ProfilesByUserIdLoader(DataLoader[uuid.UUID, list[Row]]):
    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__()
        self.pool = pool

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[list[Row]]:
        rows = await self.pool.fetch(
            "SELECT * FROM profiles WHERE user_id = ANY($1::uuid[]) "
            "ORDER BY user_id, created_at, id",
            list(keys),
        )
        grouped: dict[uuid.UUID, list[Row]] = defaultdict(list)
        for row in rows:
            grouped[row["user_id"]].append(row)
        return [grouped.get(key, []) for key in keys]


class UserLoaders:
    """The account loaders of one request."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.user_by_id = UserByIdLoader(pool)
        self.profiles_by_user_id = ProfilesByUserIdLoader(pool)


class _HasPool(Protocol):
    @property
    def pool(self) -> asyncpg.Pool: ...


class _RequestContext(Protocol):
    @property
    def loaders(self) -> _HasPool: ...

    @property
    def state(self) -> dict[str, Any]: ...


def user_loaders(context: _RequestContext) -> UserLoaders:
    """This request's account loaders, made on first use."""
    loaders = context.state.get("user_loaders")
    if not isinstance(loaders, UserLoaders):
        loaders = context.state["user_loaders"] = UserLoaders(context.loaders.pool)
    return loaders
