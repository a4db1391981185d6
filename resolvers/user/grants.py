"""Library access grants: which libraries a guest account or a kids profile may read.

Grants are Casbin policy rows (``p, user:<id> | profile:<id>, library:<id>, catalog, read``),
written to PostgreSQL and to the in-memory enforcer together; every later request's visibility
filter includes them.
"""

from __future__ import annotations

import uuid

import asyncpg

from infra.authz.casbin_engine import RULES_CHANGED_TOPIC, CasbinEngine
from infra.bus import EventBus
from infra.errors import BadUserInput, NotFound
from resolvers.user.audit import record_event

__all__ = ["set_library_grant"]


async def set_library_grant(
    pool: asyncpg.Pool,
    casbin: CasbinEngine,
    *,
    actor_user_id: uuid.UUID,
    library_id: uuid.UUID,
    user_id: uuid.UUID | None,
    profile_id: uuid.UUID | None,
    granted: bool,
    bus: EventBus | None = None,
    client_address: str | None = None,
) -> str:
    """Grant (or revoke) reading one library; returns the Casbin subject it applied to."""
    if (user_id is None) == (profile_id is None):
        raise BadUserInput("name exactly one of userId and profileId", field="userId")
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT 1 FROM libraries WHERE id = $1", library_id) is None:
            raise NotFound("no library has this id", field="libraryId")
        if user_id is not None:
            exists = await conn.fetchval("SELECT 1 FROM users WHERE id = $1", user_id)
            subject = f"user:{user_id}"
        else:
            exists = await conn.fetchval("SELECT 1 FROM profiles WHERE id = $1", profile_id)
            subject = f"profile:{profile_id}"
        if exists is None:
            raise NotFound("no such user or profile", field="userId" if user_id else "profileId")
        if granted:
            await casbin.add_grant(conn, subject, str(library_id))
        else:
            await casbin.remove_grant(conn, subject, str(library_id))
        await record_event(
            conn, action="library.grant" if granted else "library.revoke", result="ok",
            actor_user_id=actor_user_id, target=f"{subject} library:{library_id}",
            client_address=client_address,
        )  # fmt: skip
    if bus is not None:  # other processes reload their rules
        await bus.publish(RULES_CHANGED_TOPIC, {"subject": subject, "library": str(library_id)})
    return subject
