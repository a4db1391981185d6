"""Profiles inside an account: each with its own parental limits, libraries and languages.

An account holds several profiles (a parent's, a child's); a signed-in session is on one of
them at a time, and the access token names it. Switching hands out a new access token for the
same session; a PIN-protected profile needs its PIN (hashed like a password, with back-off
after wrong guesses, since four digits are quick to try). A kids profile manages nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from enum import Enum

import asyncpg

from infra.authz.principal import Principal
from infra.errors import BadUserInput, Forbidden, NotFound, RateLimited, Unauthenticated
from infra.names import is_display_name
from infra.passwords import hash_password_async, verify_password_async
from infra.ratelimit import FailureLimiter
from infra.tokens import ACCESS_TOKEN_TTL_SECONDS, KeyRing, issue_access_token
from resolvers.user.audit import record_event
from resolvers.user.signin import scopes_for_roles

__all__ = [
    "KEEP",
    "Keep",
    "ProfileFields",
    "ProfileNameTaken",
    "ProfileSwitch",
    "WrongPin",
    "create_profile",
    "delete_profile",
    "list_profiles",
    "switch_profile",
    "update_profile",
]

PIN_LENGTHS = range(4, 9)


class Keep(Enum):
    """A field left out of an update keeps its value."""

    KEEP = "keep"


KEEP = Keep.KEEP


class ProfileNameTaken(BadUserInput):
    """The account already has a profile with this name (case-insensitive)."""


class WrongPin(Forbidden):
    """The profile is PIN-protected and the PIN was missing or wrong."""


@dataclass(frozen=True, slots=True)
class ProfileFields:
    """What to store; ``KEEP`` leaves a column alone (``None`` clears a nullable one: no
    rating limit, every library, no PIN)."""

    name: str | Keep = KEEP
    avatar_url: str | Keep | None = KEEP
    is_kids: bool | Keep = KEEP
    max_rating: str | Keep | None = KEEP
    allow_unrated: bool | Keep = KEEP
    blocked_tags: Sequence[str] | Keep = KEEP
    allowed_tags: Sequence[str] | Keep = KEEP
    library_ids: Sequence[uuid.UUID] | Keep | None = KEEP
    audio_language: str | Keep | None = KEEP
    subtitle_language: str | Keep | None = KEEP
    pin: str | Keep | None = KEEP


@dataclass(frozen=True, slots=True)
class ProfileSwitch:
    access_token: str
    expires_in: int
    profile: asyncpg.Record


def _require_manager(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:
        raise Unauthenticated("sign in first")
    if principal.is_kids or "kids" in principal.roles:
        raise Forbidden("a kids profile cannot manage profiles")
    return uuid.UUID(principal.user_id)


def _tags(values: Sequence[str], field: str) -> list[str]:
    clean = sorted({value.strip().lower() for value in values if value.strip()})
    if len(clean) > 100 or any(len(tag) > 64 for tag in clean):
        raise BadUserInput("at most 100 tags of up to 64 characters", field=field)
    return clean


def _language(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    clean = value.strip()
    if len(clean) > 16 or not all(c.isalnum() or c == "-" for c in clean):
        raise BadUserInput("a language is a short code such as en or pt-BR", field=field)
    return clean


async def _columns(
    conn: asyncpg.Connection, changes: ProfileFields, ratings: Collection[str]
) -> dict[str, object]:
    """The validated columns to write, by column name; a limit must be one of ``ratings`` (the
    catalog policy's rating table)."""
    columns: dict[str, object] = {}
    for spec in fields(changes):
        value = getattr(changes, spec.name)
        if value is not KEEP:
            columns[spec.name] = value
    if "name" in columns:
        name = str(columns["name"]).strip()
        if not name or len(name) > 64 or not is_display_name(name):
            raise BadUserInput("a profile name is 1 to 64 printable characters", field="name")
        columns["name"] = name
    if columns.get("avatar_url") is not None:
        avatar = str(columns["avatar_url"]).strip()
        if len(avatar) > 2048 or not avatar.startswith(("https://", "http://", "/")):
            raise BadUserInput("an avatar is an http(s) URL or a path", field="avatarUrl")
        columns["avatar_url"] = avatar
    if columns.get("max_rating") is not None:
        rating = str(columns["max_rating"]).strip().upper()
        if rating not in ratings:
            raise BadUserInput("unknown parental rating", field="maxRating")
        columns["max_rating"] = rating
    for name, field in (("blocked_tags", "blockedTags"), ("allowed_tags", "allowedTags")):
        if name in columns:
            columns[name] = _tags(columns[name], field)  # type: ignore[arg-type]
    languages = (("audio_language", "audioLanguage"), ("subtitle_language", "subtitleLanguage"))
    for name, field in languages:
        if name in columns:
            columns[name] = _language(columns[name], field)  # type: ignore[arg-type]
    if columns.get("library_ids") is not None:
        library_ids = sorted(set(columns["library_ids"]))  # type: ignore[call-overload]
        known = await conn.fetchval(
            "SELECT count(*) FROM libraries WHERE id = ANY($1::uuid[])", library_ids
        )
        if known != len(library_ids):
            raise BadUserInput("no library has one of these ids", field="libraryIds")
        columns["library_ids"] = library_ids
    if "pin" in columns:
        pin = columns.pop("pin")
        if pin is None or pin == "":
            columns["pin_hash"] = None
        else:
            if not (isinstance(pin, str) and pin.isascii() and pin.isdigit()) or (
                len(pin) not in PIN_LENGTHS
            ):
                raise BadUserInput("a PIN is 4 to 8 digits", field="pin")
            columns["pin_hash"] = await hash_password_async(pin)
    return columns


async def list_profiles(pool: asyncpg.Pool, user_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT * FROM profiles WHERE user_id = $1 ORDER BY created_at, id", user_id
    )
    return rows


async def create_profile(
    pool: asyncpg.Pool,
    principal: Principal,
    changes: ProfileFields,
    *,
    ratings: Collection[str],
    client_address: str | None = None,
) -> asyncpg.Record:
    """A new profile in the caller's account; ``ratings`` are the limits a profile may have."""
    user_id = _require_manager(principal)
    if changes.name is KEEP:
        raise BadUserInput("a profile needs a name", field="name")
    async with pool.acquire() as conn, conn.transaction():
        columns = await _columns(conn, changes, ratings)
        names = ["user_id", *columns]
        placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
        try:
            async with conn.transaction():
                row: asyncpg.Record = await conn.fetchrow(
                    f"INSERT INTO profiles ({', '.join(names)}) VALUES ({placeholders}) "
                    "RETURNING *",
                    user_id,
                    *columns.values(),
                )
        except asyncpg.UniqueViolationError:
            raise ProfileNameTaken(
                "the account has a profile with this name", field="name"
            ) from None
        await record_event(
            conn, action="profile.create", result="ok", actor_user_id=user_id,
            target=f"profile:{row['id']}", client_address=client_address,
        )  # fmt: skip
    return row


async def update_profile(
    pool: asyncpg.Pool,
    principal: Principal,
    profile_id: uuid.UUID,
    changes: ProfileFields,
    *,
    ratings: Collection[str],
    client_address: str | None = None,
) -> asyncpg.Record:
    """Change the given fields of one of the caller's profiles (``ratings``: as for
    ``create_profile``)."""
    user_id = _require_manager(principal)
    async with pool.acquire() as conn, conn.transaction():
        columns = await _columns(conn, changes, ratings)
        # Column names come from ProfileFields, never from the caller; values are bound.
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(columns, start=3))
        try:
            async with conn.transaction():
                row: asyncpg.Record | None = await conn.fetchrow(
                    f"UPDATE profiles SET {assignments or 'name = name'} "
                    "WHERE id = $1 AND user_id = $2 RETURNING *",
                    profile_id,
                    user_id,
                    *columns.values(),
                )
        except asyncpg.UniqueViolationError:
            raise ProfileNameTaken(
                "the account has a profile with this name", field="name"
            ) from None
        if row is None:
            raise NotFound("no profile of yours has this id", field="id")
        await record_event(
            conn, action="profile.update", result="ok", actor_user_id=user_id,
            target=f"profile:{profile_id}", client_address=client_address,
            details={"fields": sorted(columns)},
        )  # fmt: skip
    return row


async def delete_profile(
    pool: asyncpg.Pool,
    principal: Principal,
    profile_id: uuid.UUID,
    *,
    client_address: str | None = None,
) -> None:
    """Delete one of the caller's profiles (never the last one). Sessions on it are revoked:
    left alone they would lose the profile's limits with it."""
    user_id = _require_manager(principal)
    async with pool.acquire() as conn, conn.transaction():
        owned = await conn.fetch("SELECT id FROM profiles WHERE user_id = $1 FOR UPDATE", user_id)
        if profile_id not in {row["id"] for row in owned}:
            raise NotFound("no profile of yours has this id", field="id")
        if len(owned) == 1:
            raise BadUserInput("an account keeps at least one profile", field="id")
        await conn.execute(
            "UPDATE auth_sessions SET revoked_at = now() "
            "WHERE profile_id = $1 AND revoked_at IS NULL",
            profile_id,
        )
        await conn.execute("DELETE FROM profiles WHERE id = $1", profile_id)
        await record_event(
            conn, action="profile.delete", result="ok", actor_user_id=user_id,
            target=f"profile:{profile_id}", client_address=client_address,
        )  # fmt: skip


async def switch_profile(
    pool: asyncpg.Pool,
    *,
    ring: KeyRing,
    limiter: FailureLimiter,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    profile_id: uuid.UUID,
    pin: str | None,
    client_address: str | None = None,
) -> ProfileSwitch:
    """Move the session to another profile of its account and issue its access token.

    The session's refresh tokens follow (a refresh issues tokens for the session's profile).
    """
    limiter_key = f"pin:{profile_id}"
    wait = await limiter.check(limiter_key)
    if wait > 0:
        raise RateLimited(
            f"too many wrong PINs; try again in {int(wait) + 1} s",
            retry_after_seconds=int(wait) + 1,
        )
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT p.*, u.roles AS user_roles, u.is_disabled, s.revoked_at AS session_revoked_at "
            "FROM profiles p JOIN users u ON u.id = p.user_id "
            "JOIN auth_sessions s ON s.user_id = u.id AND s.id = $3 "
            "WHERE p.id = $1 AND p.user_id = $2",
            profile_id,
            user_id,
            session_id,
        )
        if row is None:
            raise NotFound("no profile of yours has this id", field="profileId")
        if row["is_disabled"] or row["session_revoked_at"] is not None:
            raise Unauthenticated("sign in again")
        if row["pin_hash"] is not None and not (
            pin and await verify_password_async(row["pin_hash"], pin)
        ):
            await limiter.record_failure(limiter_key)
            await record_event(
                conn, action="profile.switch", result="wrong pin", actor_user_id=user_id,
                target=f"profile:{profile_id}", client_address=client_address,
            )  # fmt: skip
            raise WrongPin("this profile needs its PIN", field="pin")
        async with conn.transaction():
            await conn.execute(
                "UPDATE auth_sessions SET profile_id = $2, last_seen_at = now() WHERE id = $1",
                session_id,
                profile_id,
            )
            await record_event(
                conn, action="profile.switch", result="ok", actor_user_id=user_id,
                target=f"profile:{profile_id}", client_address=client_address,
            )  # fmt: skip
    await limiter.record_success(limiter_key)
    roles = list(row["user_roles"])
    token = issue_access_token(
        ring,
        user_id=str(user_id),
        session_id=str(session_id),
        profile_id=str(profile_id),
        roles=roles,
        scopes=scopes_for_roles(roles),
    )
    return ProfileSwitch(token, ACCESS_TOKEN_TTL_SECONDS, row)
