"""The audit trail: who did what to what, with what result, from where.

An event never fails the action it records: an actor whose account is gone is kept by name.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

__all__ = ["record_event"]


async def record_event(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    action: str,
    result: str,
    actor_user_id: uuid.UUID | None = None,
    actor_name: str | None = None,
    target: str | None = None,
    client_address: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO audit_events (actor_user_id, actor_name, action, target, result, "
        "client_address, details) VALUES ((SELECT id FROM users WHERE id = $1), "
        "coalesce($2, (SELECT name FROM users WHERE id = $1)), $3, $4, $5, $6, $7)",
        actor_user_id,
        actor_name,
        action,
        target,
        result,
        client_address,
        details or {},
    )
