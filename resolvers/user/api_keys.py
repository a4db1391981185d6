"""API keys for apps and automations: shown once, stored hashed, scoped, revocable."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from infra.errors import BadUserInput, NotFound
from infra.names import is_display_name
from infra.tokens import new_api_key
from resolvers.user.api_clients import validate_key_client
from resolvers.user.audit import record_event

__all__ = ["KNOWN_SCOPES", "create_api_key", "list_api_keys", "revoke_api_key"]

KNOWN_SCOPES = frozenset(
    {
        "catalog:read", "catalog:write", "catalog:*", "playback:read", "playback:write",
        "playback:*", "admin:*", "legacy:read",
    }
)  # fmt: skip


async def create_api_key(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    name: str,
    scopes: Sequence[str],
    *,
    expires_at: datetime | None = None,
    client_address: str | None = None,
    client_id: uuid.UUID | None = None,
    persisted_only: bool = False,
) -> tuple[asyncpg.Record, str]:
    """The stored row and the key itself, which is never stored and never shown again.

    A key may belong to an API client; a persisted-only one runs only that client's registered
    documents (``resolvers.user.api_clients``)."""
    clean = name.strip()
    if not clean or len(clean) > 100 or not is_display_name(clean):
        raise BadUserInput("an API key name is 1 to 100 printable characters", field="name")
    unknown = sorted(set(scopes) - KNOWN_SCOPES)
    if unknown or not scopes:
        raise BadUserInput(f"unknown scopes: {', '.join(unknown) or 'none given'}", field="scopes")
    await validate_key_client(pool, client_id, persisted_only)
    key, key_hash = new_api_key()
    async with pool.acquire() as conn, conn.transaction():
        row: asyncpg.Record = await conn.fetchrow(
            "INSERT INTO api_keys (user_id, name, key_prefix, key_hash, scopes, expires_at, "
            "client_id, persisted_only) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
            user_id, clean, key[:8], key_hash, sorted(set(scopes)), expires_at, client_id,
            persisted_only,
        )  # fmt: skip
        await record_event(
            conn, action="api_key.create", result="ok", actor_user_id=user_id,
            target=f"api_key:{row['id']}", client_address=client_address,
            details={
                "scopes": sorted(set(scopes)),
                "client_id": str(client_id) if client_id else None,
                "persisted_only": persisted_only,
            },
        )  # fmt: skip
    return row, key


async def list_api_keys(pool: asyncpg.Pool, user_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT * FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC", user_id
    )
    return rows


async def revoke_api_key(
    pool: asyncpg.Pool, user_id: uuid.UUID, key_id: uuid.UUID, *, is_admin: bool = False
) -> None:
    revoked = await pool.fetchval(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
        "WHERE id = $1 AND (user_id = $2 OR $3) RETURNING id",
        key_id,
        user_id,
        is_admin,
    )
    if revoked is None:
        raise NotFound("API key not found")
    await record_event(
        pool, action="api_key.revoke", result="ok", actor_user_id=user_id,
        target=f"api_key:{key_id}",
    )  # fmt: skip
