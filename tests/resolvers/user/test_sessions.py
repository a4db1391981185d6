"""Sessions and password changes."""

from __future__ import annotations

import asyncpg
import pytest

from infra.errors import RateLimited
from infra.passwords import verify_password
from infra.ratelimit import InProcessLimiter
from infra.tokens import KeyRing
from resolvers.user.sessions import change_password, list_sessions, revoke_session
from resolvers.user.signin import InvalidCredentials
from tests.resolvers.user.conftest import PASSWORD, MakeUser, signed_in


async def test_a_password_change_keeps_one_session_and_ends_the_others(
    pool: asyncpg.Pool, make_user: MakeUser, ring: KeyRing
) -> None:
    user_id = await make_user()
    keep = await signed_in(pool, ring)
    await signed_in(pool, ring)
    await signed_in(pool, ring)

    revoked = await change_password(pool, user_id, PASSWORD, "the next password", keep.session_id)

    assert revoked == 3 - 1
    open_sessions = [
        row["id"] for row in await list_sessions(pool, user_id) if not row["revoked_at"]
    ]
    assert open_sessions == [keep.session_id]
    stored = await pool.fetchval("SELECT password_hash FROM users WHERE id = $1", user_id)
    assert verify_password(stored, "the next password")


async def test_a_password_change_without_a_session_to_keep_ends_them_all(
    pool: asyncpg.Pool, make_user: MakeUser, ring: KeyRing
) -> None:
    user_id = await make_user()
    await signed_in(pool, ring)

    assert await change_password(pool, user_id, PASSWORD, "the next password", None) == 1


async def test_guessing_the_current_password_locks_like_sign_in(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    user_id = await make_user()
    limiter = InProcessLimiter()
    for attempt in range(5):
        with pytest.raises(InvalidCredentials):
            await change_password(
                pool, user_id, f"guess {attempt}", "the next password", None, limiter=limiter
            )

    with pytest.raises(RateLimited):
        await change_password(pool, user_id, PASSWORD, "the next password", None, limiter=limiter)
    assert await limiter.check("account:alice") > 0


async def test_a_session_of_someone_else_cannot_be_revoked(
    pool: asyncpg.Pool, make_user: MakeUser, ring: KeyRing
) -> None:
    await make_user("alice")
    bob_id = await make_user("bob")
    alice = await signed_in(pool, ring, "alice")

    with pytest.raises(Exception, match="no session of yours"):
        await revoke_session(pool, bob_id, alice.session_id)
    assert await pool.fetchval("SELECT revoked_at FROM auth_sessions") is None
