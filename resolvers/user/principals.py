"""Who is calling: a verified access token or an API key turned into a ``Principal``.

The token's signature and expiry are checked by ``infra.tokens``; here one query confirms the
session is still open (sign-out and password changes take effect at once, not after the token
expires) and reads the active profile's limits.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from infra.authz.principal import Principal
from infra.errors import Unauthenticated
from infra.principal_cache import PrincipalCache
from infra.tokens import AccessClaims, InvalidAccessToken, hash_token

__all__ = [
    "principal_for_access_token",
    "principal_for_api_key",
    "profile_principal",
    "stream_principal",
]


def _profile_fields(row: asyncpg.Record) -> dict[str, object]:
    if row["profile_id"] is None:
        return {}
    return {
        "profile_id": str(row["profile_id"]),
        "is_kids": bool(row["is_kids"]),
        "max_rating": row["max_rating"],
        "allow_unrated": bool(row["allow_unrated"]),
        "blocked_tags": frozenset(row["blocked_tags"] or ()),
        "allowed_tags": frozenset(row["allowed_tags"] or ()),
        "profile_library_ids": (
            None
            if row["library_ids"] is None
            else frozenset(str(library) for library in row["library_ids"])
        ),
    }


def _uuid(name: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        # Signed by us, yet not one of our ids: refused like any bad token, never a 500.
        raise InvalidAccessToken(f"malformed: {name} is not a UUID") from None


async def principal_for_access_token(
    pool: asyncpg.Pool, claims: AccessClaims, cache: PrincipalCache | None = None
) -> Principal:
    """The session's principal; from ``cache`` when it holds it (see ``infra.principal_cache``
    for how a change still takes effect at once)."""
    key = ("jwt", claims.session_id, claims.profile_id, claims.user_id, claims.scopes)
    if cache is not None and (known := cache.get(key)) is not None:
        return known
    ticket = cache.ticket() if cache is not None else 0
    row = await pool.fetchrow(
        "SELECT s.revoked_at, u.is_disabled, u.roles, p.id AS profile_id, p.is_kids, "
        "p.max_rating, p.allow_unrated, p.blocked_tags, p.allowed_tags, p.library_ids "
        "FROM auth_sessions s JOIN users u ON u.id = s.user_id "
        "LEFT JOIN profiles p ON p.id = $2 AND p.user_id = s.user_id "
        "WHERE s.id = $1 AND s.user_id = $3",
        _uuid("sid", claims.session_id),
        _uuid("pid", claims.profile_id) if claims.profile_id else None,
        _uuid("sub", claims.user_id),
    )
    if row is None or row["revoked_at"] is not None or row["is_disabled"]:
        raise Unauthenticated("Invalid or expired access token")
    principal = Principal(
        user_id=claims.user_id,
        roles=frozenset(row["roles"]),
        scopes=frozenset(claims.scopes),
        auth_method="jwt",
        **_profile_fields(row),  # type: ignore[arg-type]
    )
    if cache is not None:
        cache.put(ticket, key, principal)
    return principal


async def principal_for_api_key(
    pool: asyncpg.Pool, key: str, cache: PrincipalCache | None = None
) -> Principal:
    """One statement: the key's owner and scopes; ``last_used_at`` is written at most once a
    minute, so a busy client does not turn every request into a write. From ``cache`` when it
    holds the key (its entry lives a minute at most, and never past the key's expiry)."""
    key_hash = hash_token(key)
    cache_key = ("api_key", key_hash)
    if cache is not None and (known := cache.get(cache_key)) is not None:
        return known
    ticket = cache.ticket() if cache is not None else 0
    row = await pool.fetchrow(
        "WITH k AS ("
        " SELECT k.id, k.user_id, k.scopes, k.last_used_at, k.client_id, k.persisted_only,"
        " k.expires_at, u.roles,"
        " (SELECT id FROM profiles p WHERE p.user_id = k.user_id ORDER BY created_at, id LIMIT 1)"
        " AS profile_id"
        " FROM api_keys k JOIN users u ON u.id = k.user_id"
        " LEFT JOIN api_clients c ON c.id = k.client_id"
        " WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND NOT u.is_disabled"
        " AND c.revoked_at IS NULL"
        " AND (k.expires_at IS NULL OR k.expires_at > now())),"
        " touched AS (UPDATE api_keys SET last_used_at = now() WHERE id = (SELECT id FROM k)"
        " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute'))"
        " SELECT user_id, scopes, roles, profile_id, client_id, persisted_only, expires_at"
        " FROM k",
        key_hash,
    )
    if row is None:
        raise Unauthenticated("Invalid API key")
    principal = Principal(
        user_id=str(row["user_id"]),
        profile_id=str(row["profile_id"]) if row["profile_id"] else None,
        roles=frozenset(row["roles"]),
        scopes=frozenset(row["scopes"]),
        auth_method="api_key",
        api_client_id=str(row["client_id"]) if row["client_id"] else None,
        persisted_only=bool(row["persisted_only"]),
    )
    if cache is not None:
        expires = row["expires_at"]
        left = None if expires is None else (expires - datetime.now(UTC)).total_seconds()
        cache.put(ticket, cache_key, principal, expires_in=left)
    return principal


async def stream_principal(pool: asyncpg.Pool, user_id: str) -> Principal | None:
    """Who a signed stream URL speaks for: the user's account (roles, library grants), with
    read access to the catalog only; None when the user is gone or disabled.

    The signature is the authorization for its one file (the playback mutation checked the
    profile's limits when it signed); this re-check makes disabling a user or revoking a library
    grant take effect at once.
    """
    return await profile_principal(pool, user_id, None)


async def profile_principal(
    pool: asyncpg.Pool, user_id: str, profile_id: str | None
) -> Principal | None:
    """Who a signed URL bound to a profile speaks for (images, HLS sessions): the account's
    roles and grants with that profile's limits as they are now, with read access to the
    catalog only; None when the user is gone or disabled, or the profile is no longer theirs.
    Without a profile: the account alone (``stream_principal``)."""
    row = await pool.fetchrow(
        "SELECT u.roles, p.id AS profile_id, p.is_kids, p.max_rating, p.allow_unrated, "
        "p.blocked_tags, p.allowed_tags, p.library_ids FROM users u "
        "LEFT JOIN profiles p ON p.id = $2 AND p.user_id = u.id "
        "WHERE u.id = $1 AND NOT u.is_disabled",
        uuid.UUID(user_id),
        uuid.UUID(profile_id) if profile_id else None,
    )
    if row is None or (profile_id is not None and row["profile_id"] is None):
        return None
    return Principal(
        user_id=user_id,
        roles=frozenset(row["roles"]),
        scopes=frozenset({"catalog:read"}),
        # "jwt" is the nearest method: a signed URL stands for an interactive session's request.
        auth_method="jwt",
        **_profile_fields(row),  # type: ignore[arg-type]
    )
