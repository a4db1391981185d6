"""The TOTP second factor: enrolment in two steps, recovery codes, and turning it off.

``begin_totp_enrollment`` makes a secret and the ``otpauth://`` URI for the authenticator app
but stores nothing: a half-finished enrolment must not lock the owner out. The secret is kept
only when ``confirm_totp_enrollment`` is given a code the app made from it; that step returns ten
one-time recovery codes, shown once and stored hashed. Turning the factor off needs the
password.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from infra.errors import BadUserInput, Unauthenticated
from infra.ratelimit import FailureLimiter
from infra.totp import new_recovery_codes, new_totp_secret, provisioning_uri, verify_totp
from resolvers.user.audit import record_event
from resolvers.user.sessions import verify_own_password

__all__ = [
    "TotpEnrollment",
    "begin_totp_enrollment",
    "confirm_totp_enrollment",
    "disable_totp",
]

_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
MIN_SECRET_LENGTH = 32  # 160 bits, what new_totp_secret makes


@dataclass(frozen=True, slots=True)
class TotpEnrollment:
    secret: str
    provisioning_uri: str


async def _user(conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID) -> asyncpg.Record:
    user = await conn.fetchrow("SELECT * FROM users WHERE id = $1", user_id)
    if user is None or user["is_disabled"]:
        raise Unauthenticated("sign in again")
    return user


async def begin_totp_enrollment(pool: asyncpg.Pool, user_id: uuid.UUID) -> TotpEnrollment:
    """A fresh secret for the authenticator app; nothing is stored yet."""
    user = await _user(pool, user_id)
    if user["totp_secret"] is not None:
        raise BadUserInput("a second factor is already on; turn it off first")
    secret = new_totp_secret()
    return TotpEnrollment(secret, provisioning_uri(secret, user["name"]))


async def confirm_totp_enrollment(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    secret: str,
    code: str,
    *,
    client_address: str | None = None,
) -> list[str]:
    """Keep ``secret`` when ``code`` was made from it; the recovery codes, shown this once."""
    clean = secret.replace(" ", "").upper()
    if not (MIN_SECRET_LENGTH <= len(clean) <= 128 and len(clean) % 8 == 0) or not (
        set(clean) <= _BASE32
    ):
        raise BadUserInput("not a secret from beginTotpEnrollment", field="secret")
    step = verify_totp(clean, code, None)
    if step is None:
        raise BadUserInput("the code does not match; check the app's clock", field="code")
    codes, hashes = new_recovery_codes()
    async with pool.acquire() as conn, conn.transaction():
        enrolled = await conn.fetchval(
            "UPDATE users SET totp_secret = $2, totp_last_step = $3, recovery_code_hashes = $4 "
            "WHERE id = $1 AND totp_secret IS NULL AND NOT is_disabled RETURNING id",
            user_id,
            clean,
            step,
            hashes,
        )
        if enrolled is None:
            await _user(conn, user_id)
            raise BadUserInput("a second factor is already on; turn it off first")
        await record_event(
            conn, action="totp.enable", result="ok", actor_user_id=user_id,
            target=f"user:{user_id}", client_address=client_address,
        )  # fmt: skip
    return codes


async def disable_totp(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    password: str,
    *,
    limiter: FailureLimiter | None = None,
    client_address: str | None = None,
) -> asyncpg.Record:
    """Turn the second factor off (and drop its recovery codes); needs the password."""
    await verify_own_password(pool, user_id, password, limiter=limiter)
    async with pool.acquire() as conn, conn.transaction():
        user: asyncpg.Record = await conn.fetchrow(
            "UPDATE users SET totp_secret = NULL, totp_last_step = NULL, "
            "recovery_code_hashes = ARRAY[]::text[] WHERE id = $1 RETURNING *",
            user_id,
        )
        await record_event(
            conn, action="totp.disable", result="ok", actor_user_id=user_id,
            target=f"user:{user_id}", client_address=client_address,
        )  # fmt: skip
    return user
