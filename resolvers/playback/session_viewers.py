"""Who a transcode session plays for: the user and profile that started it, and its file.

The HLS routes check a signed URL against this now and then (``SignedLookups``), so a title
hidden from the profile after ``startPlayback`` (a rating raised, a grant revoked, a profile
narrowed) stops playing as direct play does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

__all__ = ["SessionViewer", "transcode_viewer"]


@dataclass(frozen=True, slots=True)
class SessionViewer:
    user_id: str
    profile_id: str
    file_id: uuid.UUID


async def transcode_viewer(pool: asyncpg.Pool, session_id: uuid.UUID) -> SessionViewer | None:
    row = await pool.fetchrow(
        "SELECT s.user_id, s.profile_id, t.file_id FROM transcode_sessions t "
        "JOIN playback_sessions s ON s.id = t.session_id WHERE t.session_id = $1",
        session_id,
    )
    if row is None:
        return None
    return SessionViewer(str(row["user_id"]), str(row["profile_id"]), row["file_id"])
