"""A user's sign-in sessions (one per device), and changing the password.

A password change ends every other session at once: whoever else held the old password (or a
session made with it) is out, while the device that changed it stays signed in.
"""

from __future__ import annotations

import uuid

import asyncpg

from infra.errors import BadUserInput, NotFound, RateLimited, Unauthenticated
from infra.passwords import hash_password_async, verify_password_async
from infra.ratelimit import FailureLimiter
from resolvers.user.accounts import validate_credentials
from resolvers.user.audit import record_event
from resolvers.user.signin import InvalidCredentials

__all__ = ["change_password", "list_sessions", "revoke_session", "verify_own_password"]

SESSIONS_LISTED = 100


async def list_sessions(pool: asyncpg.Pool, user_id: uuid.UUID) -> list[asyncpg.Record]:
    """The user's most recent sessions, open ones first, newest first."""
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT * FROM auth_sessions WHERE user_id = $1 "
        "ORDER BY revoked_at IS NOT NULL, last_seen_at DESC, id DESC LIMIT $2",
        user_id,
        SESSIONS_LISTED,
    )
    return rows


async def revoke_session(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    client_address: str | None = None,
) -> asyncpg.Record:
    """End one of the user's sessions (already ended ones stay as they were)."""
    row: asyncpg.Record | None = await pool.fetchrow(
        "UPDATE auth_sessions SET revoked_at = coalesce(revoked_at, now()) "
        "WHERE id = $1 AND user_id = $2 RETURNING *",
        session_id,
        user_id,
    )
    if row is None:
        raise NotFound("no session of yours has this id", field="id")
    await record_event(
        pool, action="session.revoke", result="ok", actor_user_id=user_id,
        target=f"session:{session_id}", client_address=client_address,
    )  # fmt: skip
    return row


async def verify_own_password(
    conn: asyncpg.Connection | asyncpg.Pool,
    user_id: uuid.UUID,
    password: str,
    *,
    limiter: FailureLimiter | None = None,
    field: str = "password",
) -> asyncpg.Record:
    """The user's row when ``password`` is theirs; wrong guesses count towards the same
    lockout as sign-in, so a stolen session cannot be used to guess the password."""
    user = await conn.fetchrow("SELECT * FROM users WHERE id = $1", user_id)
    if user is None or user["is_disabled"]:
        raise Unauthenticated("sign in again")
    key = f"account:{user['name'].strip().casefold()}"
    if limiter is not None:
        wait = await limiter.check(key)
        if wait > 0:
            raise RateLimited(
                f"too many wrong passwords; try again in {int(wait) + 1} s",
                retry_after_seconds=int(wait) + 1,
            )
    if not await verify_password_async(user["password_hash"], password):
        if limiter is not None:
            await limiter.record_failure(key)
        raise InvalidCredentials("the password is wrong", field=field)
    return user


async def change_password(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    current: str,
    new: str,
    keep_session_id: uuid.UUID | None,
    *,
    limiter: FailureLimiter | None = None,
    client_address: str | None = None,
) -> int:
    """Store a new password and revoke every session but ``keep_session_id``; returns how many
    sessions were revoked."""
    user = await verify_own_password(
        pool, user_id, current, limiter=limiter, field="currentPassword"
    )
    try:
        validate_credentials(user["name"], new)
    except BadUserInput as problem:
        raise BadUserInput(problem.message, field="newPassword") from None
    new_hash = await hash_password_async(new)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1",
            user_id,
            new_hash,
        )
        revoked = await conn.fetch(
            "UPDATE auth_sessions SET revoked_at = now() WHERE user_id = $1 "
            "AND id IS DISTINCT FROM $2 AND revoked_at IS NULL RETURNING id",
            user_id,
            keep_session_id,
        )
        await record_event(
            conn, action="password.change", result="ok", actor_user_id=user_id,
            target=f"user:{user_id}", client_address=client_address,
            details={"sessions_revoked": len(revoked)},
        )  # fmt: skip
    return len(revoked)
