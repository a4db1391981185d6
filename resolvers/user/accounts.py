"""Accounts: the first administrator, new users, and the rows sign-in needs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from infra.bus import EventBus
from infra.errors import BadUserInput, Forbidden
from infra.names import is_display_name
from infra.passwords import hash_password_async
from infra.server_events import publish_server_event
from resolvers.user.audit import record_event

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "NameTaken",
    "SetupClosed",
    "create_user",
    "has_admin",
    "setup_first_admin",
    "validate_credentials",
]

MIN_PASSWORD_LENGTH = 8
_SETUP_LOCK = 0x5345_5455_5000  # one setup at a time, across processes


class SetupClosed(Forbidden):
    """An administrator exists: setup is closed for good."""


class NameTaken(BadUserInput):
    """Another user has this name (names are unique regardless of case)."""


def validate_credentials(name: str, password: str) -> str:
    clean = name.strip()
    if not clean or len(clean) > 64 or not is_display_name(clean):
        raise BadUserInput("a user name is 1 to 64 printable characters", field="name")
    if len(password) < MIN_PASSWORD_LENGTH or len(password) > 1024:
        raise BadUserInput(
            f"a password is {MIN_PASSWORD_LENGTH} to 1024 characters", field="password"
        )
    return clean


async def has_admin(conn: asyncpg.Connection | asyncpg.Pool) -> bool:
    return bool(
        await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users WHERE 'admin' = ANY(roles))")
    )


async def create_user(
    conn: asyncpg.Connection,
    name: str,
    password: str,
    roles: Sequence[str] = ("user",),
    *,
    actor_user_id: uuid.UUID | None = None,
    client_address: str | None = None,
    bus: EventBus | None = None,
) -> asyncpg.Record:
    """A user with a first profile named after them; refuses a taken name. With ``bus``,
    publishes ``user.created`` once the user is stored."""
    clean = validate_credentials(name, password)
    password_hash = await hash_password_async(password)
    async with conn.transaction():
        taken = await conn.fetchval("SELECT 1 FROM users WHERE lower(name) = lower($1)", clean)
        if taken:
            raise NameTaken("that user name is taken", field="name")
        user: asyncpg.Record = await conn.fetchrow(
            "INSERT INTO users (name, password_hash, roles) VALUES ($1, $2, $3) RETURNING *",
            clean,
            password_hash,
            list(roles),
        )
        await conn.execute(
            "INSERT INTO profiles (user_id, name, is_kids) VALUES ($1, $2, $3)",
            user["id"],
            clean,
            "kids" in roles,
        )
        await record_event(
            conn,
            action="user.create",
            result="ok",
            actor_user_id=actor_user_id,
            target=f"user:{user['id']}",
            client_address=client_address,
            details={"roles": list(roles)},
        )
    if bus is not None:
        await publish_server_event(
            bus,
            "user.created",
            {
                "userId": str(user["id"]),
                "roles": list(roles),
                "createdBy": str(actor_user_id) if actor_user_id else None,
            },
        )
    return user


async def setup_first_admin(
    conn: asyncpg.Connection, name: str, password: str, *, client_address: str | None = None
) -> asyncpg.Record:
    """The first administrator. Serialised by an advisory lock, so two racing calls make one."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _SETUP_LOCK)
        if not await has_admin(conn):
            return await create_user(
                conn, name, password, ("admin",), client_address=client_address
            )
    # Recorded outside the transaction so the refusal stays on the record.
    await record_event(conn, action="setup", result="refused", client_address=client_address)
    raise SetupClosed("setup is closed: an administrator already exists")
