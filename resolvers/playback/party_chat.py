"""Watch-party chat: short messages from present members, rate-limited per member, with a short
history for members who join late."""

from __future__ import annotations

import uuid

import asyncpg

from infra.errors import BadUserInput, RateLimited
from resolvers.playback.parties import PartyMessage, not_found
from resolvers.playback.sessions import Viewer

__all__ = [
    "MAX_HISTORY",
    "MAX_MESSAGE_LENGTH",
    "MESSAGES_PER_WINDOW",
    "MESSAGE_WINDOW_SECONDS",
    "post_message",
    "recent_messages",
]

MAX_MESSAGE_LENGTH = 500
MESSAGES_PER_WINDOW = 5
MESSAGE_WINDOW_SECONDS = 10
MAX_HISTORY = 200


def _message(row: asyncpg.Record) -> PartyMessage:
    return PartyMessage(
        id=row["id"],
        party_id=row["party_id"],
        user_id=row["user_id"],
        profile_id=row["profile_id"],
        body=row["body"],
        created_at=row["created_at"],
    )


async def post_message(
    pool: asyncpg.Pool, viewer: Viewer, party_id: uuid.UUID, body: str
) -> PartyMessage:
    """A chat message from a present member, at most five per ten seconds each."""
    text = body.strip()
    if not 1 <= len(text) <= MAX_MESSAGE_LENGTH:
        raise BadUserInput(
            f"a message has between 1 and {MAX_MESSAGE_LENGTH} characters", argument="body"
        )
    async with pool.acquire() as conn, conn.transaction():
        # Locking the member row makes the count and the insert one step per member.
        member = await conn.fetchval(
            "SELECT 1 FROM watch_party_members WHERE party_id = $1 AND user_id = $2 "
            "AND profile_id = $3 AND left_at IS NULL FOR UPDATE",
            party_id,
            viewer.user_id,
            viewer.profile_id,
        )
        if member is None:
            raise not_found()
        row = await conn.fetchrow(
            "INSERT INTO watch_party_messages (party_id, user_id, profile_id, body, created_at) "
            "SELECT $1, $2, $3, $4, clock_timestamp() WHERE (SELECT count(*) "
            "FROM watch_party_messages WHERE party_id = $1 AND user_id = $2 "
            "AND profile_id = $3 AND created_at > clock_timestamp() - make_interval(secs => $6)"
            ") < $5 RETURNING *",
            party_id,
            viewer.user_id,
            viewer.profile_id,
            text,
            MESSAGES_PER_WINDOW,
            float(MESSAGE_WINDOW_SECONDS),
        )
        if row is None:
            raise RateLimited(
                f"at most {MESSAGES_PER_WINDOW} messages per {MESSAGE_WINDOW_SECONDS} seconds",
                retry_after_seconds=MESSAGE_WINDOW_SECONDS,
            )
        return _message(row)


async def recent_messages(
    pool: asyncpg.Pool, viewer: Viewer, party_id: uuid.UUID, limit: int = 50
) -> list[PartyMessage]:
    """The newest ``limit`` messages, oldest first, for present members."""
    if not 1 <= limit <= MAX_HISTORY:
        raise BadUserInput(f"limit must be between 1 and {MAX_HISTORY}", argument="limit")
    rows = await pool.fetch(
        "SELECT * FROM (SELECT msg.* FROM watch_party_messages AS msg "
        "JOIN watch_party_members AS m ON m.party_id = msg.party_id AND m.user_id = $2 "
        "AND m.profile_id = $3 AND m.left_at IS NULL WHERE msg.party_id = $1 "
        "ORDER BY msg.created_at DESC, msg.id DESC LIMIT $4) AS recent "
        "ORDER BY created_at, id",
        party_id,
        viewer.user_id,
        viewer.profile_id,
        limit,
    )
    if not rows:
        is_member = await pool.fetchval(
            "SELECT 1 FROM watch_party_members WHERE party_id = $1 AND user_id = $2 "
            "AND profile_id = $3 AND left_at IS NULL",
            party_id,
            viewer.user_id,
            viewer.profile_id,
        )
        if is_member is None:
            raise not_found()
    return [_message(r) for r in rows]
