"""``revenge admin create``: an administrator from the command line, at any time.

Operators script this. It opens the same database the server uses (the embedded one is shared
with a running server on the same data dir), so it works while the server runs.
"""

from __future__ import annotations

from infra.database import open_database
from infra.settings import Settings
from resolvers.user.accounts import create_user
from resolvers.user.api_keys import create_api_key

__all__ = ["ADMIN_KEY_SCOPES", "create_admin"]

ADMIN_KEY_SCOPES = ("admin:*", "catalog:read", "catalog:write", "playback:read", "playback:write")


async def create_admin(
    settings: Settings, name: str, password: str, *, api_key: bool
) -> str | None:
    """Make the administrator; with ``api_key``, also mint an admin key and return it."""
    database = await open_database(settings)
    try:
        async with database.pool.acquire() as conn:
            user = await create_user(conn, name, password, ("admin",))
        if not api_key:
            return None
        _, key = await create_api_key(
            database.pool, user["id"], f"{user['name']} (command line)", ADMIN_KEY_SCOPES
        )
        return key
    finally:
        await database.close()
