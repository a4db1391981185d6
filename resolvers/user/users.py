"""Administering accounts: the user list, roles, disabling, and reading the audit trail.

The caller is already known to be an administrator (the subgraph checks); these functions keep
the house standing: the last enabled administrator can be neither demoted nor disabled, and a
disabled account's sessions end at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from infra.errors import BadUserInput, NotFound
from resolvers.user.audit import record_event

__all__ = [
    "ROLES",
    "list_audit_events",
    "list_users",
    "set_user_disabled",
    "set_user_roles",
    "user_name_taken",
    "validate_roles",
]

ROLES = ("admin", "user", "guest", "kids")
MAX_AUDIT_EVENTS = 500


def validate_roles(roles: Sequence[str]) -> list[str]:
    """The roles, deduplicated in canonical order; refuses none and unknown ones."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise BadUserInput(f"roles are some of {', '.join(ROLES)}", field="roles")
    return [role for role in ROLES if role in roles]


async def user_name_taken(pool: asyncpg.Pool, name: str) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM users WHERE lower(name) = lower($1))", name.strip()
        )
    )


async def list_users(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch("SELECT * FROM users ORDER BY lower(name), id")
    return rows


async def _other_enabled_admins(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM users WHERE 'admin' = ANY(roles) AND NOT is_disabled AND id <> $1",
        user_id,
    )
    return count


async def _locked_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record:
    # Every admin row is locked, so two demotions racing cannot both see the other admin.
    await conn.execute("SELECT id FROM users WHERE 'admin' = ANY(roles) FOR UPDATE")
    user = await conn.fetchrow("SELECT * FROM users WHERE id = $1 FOR UPDATE", user_id)
    if user is None:
        raise NotFound("no user has this id", field="userId")
    return user


async def set_user_roles(
    pool: asyncpg.Pool,
    actor_user_id: uuid.UUID,
    user_id: uuid.UUID,
    roles: Sequence[str],
    *,
    client_address: str | None = None,
) -> asyncpg.Record:
    clean = validate_roles(roles)
    async with pool.acquire() as conn, conn.transaction():
        user = await _locked_user(conn, user_id)
        if (
            "admin" in user["roles"]
            and "admin" not in clean
            and not await _other_enabled_admins(conn, user_id)
        ):
            raise BadUserInput("the last administrator keeps the admin role", field="roles")
        row: asyncpg.Record = await conn.fetchrow(
            "UPDATE users SET roles = $2 WHERE id = $1 RETURNING *", user_id, clean
        )
        await record_event(
            conn, action="user.set_roles", result="ok", actor_user_id=actor_user_id,
            target=f"user:{user_id}", client_address=client_address,
            details={"before": list(user["roles"]), "after": clean},
        )  # fmt: skip
    return row


async def set_user_disabled(
    pool: asyncpg.Pool,
    actor_user_id: uuid.UUID,
    user_id: uuid.UUID,
    disabled: bool,
    *,
    client_address: str | None = None,
) -> asyncpg.Record:
    """Disable (every session revoked) or enable an account; never yourself."""
    if disabled and user_id == actor_user_id:
        raise BadUserInput("you cannot disable your own account", field="userId")
    async with pool.acquire() as conn, conn.transaction():
        user = await _locked_user(conn, user_id)
        if disabled and "admin" in user["roles"] and not await _other_enabled_admins(conn, user_id):
            raise BadUserInput("the last administrator stays enabled", field="userId")
        row: asyncpg.Record = await conn.fetchrow(
            "UPDATE users SET is_disabled = $2 WHERE id = $1 RETURNING *", user_id, disabled
        )
        if disabled:
            await conn.execute(
                "UPDATE auth_sessions SET revoked_at = now() "
                "WHERE user_id = $1 AND revoked_at IS NULL",
                user_id,
            )
        await record_event(
            conn, action="user.disable" if disabled else "user.enable", result="ok",
            actor_user_id=actor_user_id, target=f"user:{user_id}", client_address=client_address,
        )  # fmt: skip
    return row


async def list_audit_events(pool: asyncpg.Pool, first: int) -> list[asyncpg.Record]:
    """The newest events first, each with the actor's current name where the actor is known."""
    if first < 1 or first > MAX_AUDIT_EVENTS:
        raise BadUserInput(f"first is 1 to {MAX_AUDIT_EVENTS}", field="first")
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT e.*, coalesce(u.name, e.actor_name) AS actor_display_name "
        "FROM audit_events e LEFT JOIN users u ON u.id = e.actor_user_id "
        "ORDER BY e.created_at DESC, e.id DESC LIMIT $1",
        first,
    )
    return rows
