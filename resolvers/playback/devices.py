"""Device profiles a user stores for their devices.

A client that knows its own capabilities better than any built-in profile (a TV app reading its
decoder list, a user who tuned a profile by hand) saves it once under its device id; every later
``startPlayback`` from that device uses it without sending it again. The profile is stored as
the validated snake_case mapping ``profile_from_dict`` reads (jsonb; the pool's codec turns it
into a dict), and validated again on load, so a row can never produce a profile the validator
would refuse.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from infra.errors import BadUserInput
from media.playback import DeviceProfile, profile_from_dict

__all__ = [
    "MAX_DEVICE_ID_LENGTH",
    "MAX_DEVICE_PROFILES",
    "StoredDeviceProfile",
    "check_device_id",
    "delete_device_profile",
    "device_profiles",
    "save_device_profile",
    "stored_profile",
]

MAX_DEVICE_ID_LENGTH = 200
# More devices than a household owns; a client inventing ids in a loop stops here.
MAX_DEVICE_PROFILES = 200


@dataclass(frozen=True, slots=True)
class StoredDeviceProfile:
    device_id: str
    profile: DeviceProfile
    updated_at: datetime


def check_device_id(device_id: str) -> str:
    text = device_id.strip()
    if not 1 <= len(text) <= MAX_DEVICE_ID_LENGTH or not text.isprintable():
        raise BadUserInput(
            f"deviceId must be 1 to {MAX_DEVICE_ID_LENGTH} printable characters",
            argument="deviceId",
        )
    return text


def _stored(row: asyncpg.Record) -> StoredDeviceProfile:
    return StoredDeviceProfile(
        device_id=row["device_id"],
        profile=profile_from_dict(row["profile"]),
        updated_at=row["updated_at"],
    )


async def save_device_profile(
    pool: asyncpg.Pool, user_id: uuid.UUID, device_id: str, data: Mapping[str, Any]
) -> StoredDeviceProfile:
    """Validate and store (replace) the device's profile; ``ValueError`` names a bad field."""
    device_id = check_device_id(device_id)
    profile_from_dict(data)
    async with pool.acquire() as conn, conn.transaction():
        count = await conn.fetchval(
            "SELECT count(*) FROM device_profiles WHERE user_id = $1 AND device_id <> $2",
            user_id,
            device_id,
        )
        if count >= MAX_DEVICE_PROFILES:
            raise BadUserInput(
                f"at most {MAX_DEVICE_PROFILES} device profiles per account", argument="deviceId"
            )
        row = await conn.fetchrow(
            "INSERT INTO device_profiles (user_id, device_id, profile) VALUES ($1, $2, $3::jsonb) "
            "ON CONFLICT (user_id, device_id) DO UPDATE SET profile = EXCLUDED.profile "
            "RETURNING device_id, profile, updated_at",
            user_id,
            device_id,
            dict(data),
        )
    return _stored(row)


async def stored_profile(
    pool: asyncpg.Pool, user_id: uuid.UUID, device_id: str
) -> DeviceProfile | None:
    row = await pool.fetchrow(
        "SELECT device_id, profile, updated_at FROM device_profiles "
        "WHERE user_id = $1 AND device_id = $2",
        user_id,
        device_id,
    )
    return _stored(row).profile if row is not None else None


async def device_profiles(pool: asyncpg.Pool, user_id: uuid.UUID) -> list[StoredDeviceProfile]:
    rows = await pool.fetch(
        "SELECT device_id, profile, updated_at FROM device_profiles "
        "WHERE user_id = $1 ORDER BY device_id",
        user_id,
    )
    return [_stored(row) for row in rows]


async def delete_device_profile(pool: asyncpg.Pool, user_id: uuid.UUID, device_id: str) -> bool:
    """True when a profile was stored for the device."""
    deleted = await pool.fetchval(
        "DELETE FROM device_profiles WHERE user_id = $1 AND device_id = $2 RETURNING device_id",
        user_id,
        check_device_id(device_id),
    )
    return deleted is not None
