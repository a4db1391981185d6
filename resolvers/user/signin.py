"""Signing in, refreshing and signing out.

Access tokens are short-lived JWTs; refresh tokens are opaque, stored hashed, used once: each
refresh issues the next token of the session's family, and presenting a token that was already
used means it was stolen or replayed, so the whole session is revoked. Failed sign-ins count
against the account and the client address (back-off, then lockout); a locked caller is told
how long to wait and no password is checked.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from infra.bus import EventBus
from infra.errors import RateLimited, Unauthenticated
from infra.passwords import hash_password_async, needs_rehash, verify_password_async
from infra.ratelimit import FailureLimiter
from infra.server_events import publish_server_event
from infra.tokens import (
    ACCESS_TOKEN_TTL_SECONDS,
    KeyRing,
    hash_token,
    issue_access_token,
    new_refresh_token,
)
from infra.totp import match_recovery_code, verify_totp
from resolvers.user.audit import record_event

__all__ = [
    "REFRESH_TOKEN_TTL",
    "InvalidCredentials",
    "InvalidRefreshToken",
    "RefreshTokenReused",
    "SecondFactorRequired",
    "Tokens",
    "refresh_session",
    "scopes_for_roles",
    "sign_in",
    "sign_out",
]

REFRESH_TOKEN_TTL = timedelta(days=30)
_dummy_hash: list[str] = []


async def _hash_for_unknown_user() -> str:
    """A real hash of a random password, verified when the name is unknown, so a wrong name
    costs as long as a wrong password."""
    if not _dummy_hash:
        _dummy_hash.append(await hash_password_async(secrets.token_urlsafe(24)))
    return _dummy_hash[0]


class InvalidCredentials(Unauthenticated):
    """Wrong name, password or second factor (never says which)."""


class SecondFactorRequired(Unauthenticated):
    """The password was right; the account needs a TOTP or recovery code too."""

    code = "SECOND_FACTOR_REQUIRED"


class InvalidRefreshToken(Unauthenticated):
    """Unknown, expired, revoked or already used."""


class RefreshTokenReused(InvalidRefreshToken):
    """A spent refresh token came back: its session is now revoked (``user_id``'s)."""

    def __init__(self, user_id: str) -> None:
        super().__init__("sign in again")
        self.user_id = user_id


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID
    user_id: uuid.UUID
    profile_id: uuid.UUID | None


def scopes_for_roles(roles: list[str]) -> list[str]:
    """What an interactive session may do; API keys carry their own narrower scopes."""
    scopes = {"catalog:read", "playback:read", "playback:write"}
    if "admin" in roles:
        scopes |= {"admin:*", "catalog:write"}
    return sorted(scopes)


async def _issue(
    conn: asyncpg.Connection,
    ring: KeyRing,
    user: asyncpg.Record,
    session_id: uuid.UUID,
    profile_id: uuid.UUID | None,
) -> Tokens:
    refresh, refresh_hash = new_refresh_token()
    await conn.execute(
        "INSERT INTO refresh_tokens (session_id, token_hash, expires_at) VALUES ($1, $2, $3)",
        session_id,
        refresh_hash,
        datetime.now(UTC) + REFRESH_TOKEN_TTL,
    )
    roles = list(user["roles"])
    access = issue_access_token(
        ring,
        user_id=str(user["id"]),
        session_id=str(session_id),
        profile_id=str(profile_id) if profile_id else None,
        roles=roles,
        scopes=scopes_for_roles(roles),
    )
    return Tokens(access, refresh, ACCESS_TOKEN_TTL_SECONDS, session_id, user["id"], profile_id)


async def _check_second_factor(
    conn: asyncpg.Connection, user: asyncpg.Record, code: str | None
) -> bool:
    if user["totp_secret"] is None:
        return True
    if not code:
        raise SecondFactorRequired("enter the code from your authenticator app")
    step = verify_totp(user["totp_secret"], code, user["totp_last_step"])
    if step is not None:
        await conn.execute("UPDATE users SET totp_last_step = $2 WHERE id = $1", user["id"], step)
        return True
    hashes = list(user["recovery_code_hashes"])
    index = match_recovery_code(code, hashes)
    if index is None:
        return False
    del hashes[index]  # one use each
    await conn.execute(
        "UPDATE users SET recovery_code_hashes = $2 WHERE id = $1", user["id"], hashes
    )
    return True


async def sign_in(
    pool: asyncpg.Pool,
    *,
    ring: KeyRing,
    limiter: FailureLimiter,
    name: str,
    password: str,
    second_factor: str | None = None,
    device: str | None = None,
    client: str | None = None,
    client_address: str | None = None,
    bus: EventBus | None = None,
) -> Tokens:
    """With ``bus``, every refusal is published as ``auth.signin_failed``."""
    account_key = f"account:{name.strip().casefold()}"
    address_key = f"address:{client_address or 'unknown'}"
    wait = max(await limiter.check(account_key), await limiter.check(address_key))
    if wait > 0:
        await record_event(
            pool, action="signin", result="locked", actor_name=name[:64],
            client_address=client_address,
        )  # fmt: skip
        await _publish_failure(bus, name, None, client_address, "rate_limited")
        raise RateLimited(
            f"too many failed sign-ins; try again in {int(wait) + 1} s",
            retry_after_seconds=int(wait) + 1,
        )
    async with pool.acquire() as conn:
        user = await conn.fetchrow(
            "SELECT * FROM users WHERE lower(name) = lower($1)", name.strip()
        )
        stored_hash = user["password_hash"] if user is not None else await _hash_for_unknown_user()
        password_ok = await verify_password_async(stored_hash, password)
        if user is None or not password_ok or user["is_disabled"]:
            await limiter.record_failure(account_key)
            await limiter.record_failure(address_key)
            await record_event(
                conn, action="signin", result="failed", actor_name=name[:64],
                actor_user_id=user["id"] if user is not None else None,
                client_address=client_address,
            )  # fmt: skip
            reason = "disabled" if user is not None and password_ok else "credentials"
            await _publish_failure(
                bus, name, user["id"] if user is not None else None, client_address, reason
            )
            raise InvalidCredentials("wrong name or password")
        async with conn.transaction():
            second_factor_ok = await _check_second_factor(conn, user, second_factor)
        if not second_factor_ok:
            await limiter.record_failure(account_key)
            await limiter.record_failure(address_key)
            await record_event(
                conn, action="signin", result="failed", actor_user_id=user["id"],
                client_address=client_address, details={"reason": "second factor"},
            )  # fmt: skip
            await _publish_failure(bus, name, user["id"], client_address, "second_factor")
            raise InvalidCredentials("wrong name or password")
        async with conn.transaction():
            if needs_rehash(user["password_hash"]):
                await conn.execute(
                    "UPDATE users SET password_hash = $2 WHERE id = $1",
                    user["id"],
                    await hash_password_async(password),
                )
            profile_id = await conn.fetchval(
                "SELECT id FROM profiles WHERE user_id = $1 ORDER BY created_at, id LIMIT 1",
                user["id"],
            )
            session_id = await conn.fetchval(
                "INSERT INTO auth_sessions (user_id, profile_id, device, client, client_address) "
                "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                user["id"], profile_id, device, client, client_address,
            )  # fmt: skip
            tokens = await _issue(conn, ring, user, session_id, profile_id)
            await record_event(
                conn, action="signin", result="ok", actor_user_id=user["id"],
                target=f"session:{session_id}", client_address=client_address,
            )  # fmt: skip
    await limiter.record_success(account_key)
    await limiter.record_success(address_key)
    return tokens


async def _publish_failure(
    bus: EventBus | None,
    name: str,
    user_id: uuid.UUID | None,
    client_address: str | None,
    reason: str,
) -> None:
    if bus is None:
        return
    data = {
        "name": name.strip()[:64],
        "userId": str(user_id) if user_id is not None else None,
        "clientAddress": client_address,
        "reason": reason,
    }
    await publish_server_event(bus, "auth.signin_failed", data)


async def refresh_session(
    pool: asyncpg.Pool, *, ring: KeyRing, refresh_token: str, client_address: str | None = None
) -> Tokens:
    """The next tokens of the session; a reused refresh token revokes the whole session."""
    reused: str | None = None
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT t.id, t.session_id, t.used_at, t.expires_at, s.revoked_at, s.user_id, "
            "s.profile_id FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id "
            "WHERE t.token_hash = $1 FOR UPDATE OF t, s",
            hash_token(refresh_token),
        )
        if row is None:
            raise InvalidRefreshToken("sign in again")
        if row["used_at"] is not None:
            # Replayed: stolen or leaked. The revocation must commit, so raise after it does.
            await conn.execute(
                "UPDATE auth_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
                row["session_id"],
            )
            await record_event(
                conn, action="refresh.reuse", result="session revoked",
                actor_user_id=row["user_id"], target=f"session:{row['session_id']}",
                client_address=client_address,
            )  # fmt: skip
            reused = str(row["user_id"])
        elif row["revoked_at"] is not None or row["expires_at"] <= datetime.now(UTC):
            raise InvalidRefreshToken("sign in again")
        else:
            return await _rotate(conn, ring, row)
    if reused is not None:
        raise RefreshTokenReused(reused)
    raise AssertionError("unreachable")  # pragma: no cover


async def _rotate(conn: asyncpg.Connection, ring: KeyRing, row: asyncpg.Record) -> Tokens:
    """Spend the presented refresh token and issue the next of its family."""
    await conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE id = $1", row["id"])
    await conn.execute(
        "UPDATE auth_sessions SET last_seen_at = now() WHERE id = $1", row["session_id"]
    )
    user = await conn.fetchrow("SELECT * FROM users WHERE id = $1", row["user_id"])
    if user is None or user["is_disabled"]:
        raise InvalidRefreshToken("sign in again")
    return await _issue(conn, ring, user, row["session_id"], row["profile_id"])


async def sign_out(pool: asyncpg.Pool, session_id: uuid.UUID) -> None:
    await pool.execute(
        "UPDATE auth_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
        session_id,
    )
