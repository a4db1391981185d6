"""Credentials for tests that talk to the real app: an administrator and their API key."""

from __future__ import annotations

import uuid

import asyncpg

from gateway.admin_cli import ADMIN_KEY_SCOPES
from resolvers.user.accounts import create_user
from resolvers.user.api_keys import create_api_key


async def admin_api_key(pool: asyncpg.Pool, name: str | None = None) -> str:
    """A new administrator (random name unless given) and an admin API key for them."""
    async with pool.acquire() as conn:
        user = await create_user(
            conn, name or f"admin-{uuid.uuid4().hex[:8]}", "correct horse battery", ("admin",)
        )
    _, key = await create_api_key(pool, user["id"], "tests", ADMIN_KEY_SCOPES)
    return key
