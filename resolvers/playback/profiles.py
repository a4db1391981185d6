"""Which profile a playback call speaks for."""

from __future__ import annotations

import uuid

import asyncpg

from infra.errors import Forbidden

__all__ = ["active_profile_id"]


async def active_profile_id(
    pool: asyncpg.Pool, user_id: uuid.UUID, profile_id: uuid.UUID | None
) -> uuid.UUID:
    """The principal's active profile, else the account's first one (an API key carries no
    profile); ``Forbidden`` when the account has none."""
    if profile_id is not None:
        return profile_id
    found: uuid.UUID | None = await pool.fetchval(
        "SELECT id FROM profiles WHERE user_id = $1 ORDER BY created_at, id LIMIT 1", user_id
    )
    if found is None:
        raise Forbidden("this account has no profile to record playback for")
    return found
