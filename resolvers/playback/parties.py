"""Watch parties: profiles that watch the same item together, below the GraphQL layer.

The party row is the one shared truth (item, queue, state, position, and the server time that
position refers to); every change to it runs under ``SELECT … FOR UPDATE``, so two commands at
once apply one after the other. Only present members see a party; everyone else gets ``None``
or ``NotFound``, exactly as for a party that does not exist. The item (and the queue) must be
visible to whoever creates or joins, so a kids profile cannot be pulled into a film it may not
see.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from infra.authz.service import VisibilityFilter
from infra.errors import BadUserInput, Forbidden, NotFound, RateLimited
from loaders.visibility import visibility_conditions
from resolvers.playback.sessions import Viewer

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "CONTROLS",
    "KINDS",
    "MAX_MEMBERS",
    "MAX_MESSAGE_LENGTH",
    "MESSAGES_PER_WINDOW",
    "MESSAGE_WINDOW_SECONDS",
    "ROLES",
    "Party",
    "PartyMember",
    "PartyMessage",
    "SyncHint",
    "command",
    "create_party",
    "expected_position_ms",
    "join_party",
    "leave_party",
    "new_invite_code",
    "party",
    "post_message",
    "recent_messages",
    "report_member",
    "set_role",
    "start_lead",
    "sync_hint",
]

# 32 symbols without the look-alikes 0/O and 1/I: 10 of them are 50 bits of chance.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 10
CONTROLS = ("host", "hosts", "everyone")
ROLES = ("host", "cohost", "member")
KINDS = ("play", "pause", "seek", "next")
MAX_MEMBERS = 50
MAX_QUEUE = 200
MAX_MESSAGE_LENGTH = 500
MESSAGES_PER_WINDOW = 5
MESSAGE_WINDOW_SECONDS = 10
MAX_HISTORY = 200
MAX_LATENCY_MS = 60_000
MIN_START_LEAD_MS = 500
IN_SYNC_MS = 40
SEEK_ABOVE_MS = 400


@dataclass(frozen=True, slots=True)
class PartyMember:
    user_id: uuid.UUID
    profile_id: uuid.UUID
    role: str
    is_ready: bool
    position_ms: int
    last_seen_at: datetime
    joined_at: datetime
    latency_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Party:
    id: uuid.UUID
    host_user_id: uuid.UUID
    host_profile_id: uuid.UUID
    item_id: uuid.UUID
    queue: tuple[uuid.UUID, ...]
    invite_code: str
    code_expires_at: datetime
    control: str
    state: str
    position_ms: int
    state_changed_at: datetime
    ended_at: datetime | None
    created_at: datetime
    # The present members, longest present first.
    members: tuple[PartyMember, ...]


@dataclass(frozen=True, slots=True)
class PartyMessage:
    id: uuid.UUID
    party_id: uuid.UUID
    user_id: uuid.UUID
    profile_id: uuid.UUID
    body: str
    created_at: datetime


def new_invite_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def expected_position_ms(party: Party, at: datetime) -> int:
    """Where a player should be at ``at``: the stored position, plus the time since it was
    stored while the party plays."""
    if party.state != "playing":
        return party.position_ms
    elapsed = (at - party.state_changed_at) // timedelta(milliseconds=1)
    return party.position_ms + max(0, elapsed)


def start_lead(party: Party) -> timedelta:
    """How far ahead a start is scheduled: twice the slowest member's round trip, at least
    half a second, so every member hears of it before it happens."""
    slowest = max((m.latency_ms or 0 for m in party.members), default=0)
    return timedelta(milliseconds=max(2 * slowest, MIN_START_LEAD_MS))


@dataclass(frozen=True, slots=True)
class SyncHint:
    """What a member's player should do to stay with the party: nothing, play slightly faster
    or slower (``rate``) for a small drift, or seek to ``seek_to_ms`` for a large one."""

    drift_ms: int  # the member's position minus where the party is (positive: ahead)
    action: str  # "none", "rate" or "seek"
    rate: float
    seek_to_ms: int | None


def sync_hint(party: Party, position_ms: int, at: datetime) -> SyncHint:
    expected = expected_position_ms(party, at)
    drift = position_ms - expected
    if party.state != "playing" or abs(drift) < IN_SYNC_MS:
        return SyncHint(drift, "none", 1.0, None)
    if abs(drift) < SEEK_ABOVE_MS:
        # Catch up over about ten seconds, never faster or slower than 5 %.
        rate = min(1.05, max(0.95, 1.0 - drift / 10_000))
        return SyncHint(drift, "rate", round(rate, 4), None)
    return SyncHint(drift, "seek", 1.0, expected)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _not_found() -> NotFound:
    return NotFound("watch party not found")


def _member(row: asyncpg.Record) -> PartyMember:
    return PartyMember(
        user_id=row["user_id"],
        profile_id=row["profile_id"],
        role=row["role"],
        is_ready=row["is_ready"],
        position_ms=row["position_ms"],
        last_seen_at=row["last_seen_at"],
        joined_at=row["joined_at"],
        latency_ms=row["latency_ms"],
    )


def _message(row: asyncpg.Record) -> PartyMessage:
    return PartyMessage(
        id=row["id"],
        party_id=row["party_id"],
        user_id=row["user_id"],
        profile_id=row["profile_id"],
        body=row["body"],
        created_at=row["created_at"],
    )


async def _load(conn: asyncpg.Connection, row: asyncpg.Record) -> Party:
    members = await conn.fetch(
        "SELECT * FROM watch_party_members WHERE party_id = $1 AND left_at IS NULL "
        "ORDER BY joined_at, user_id, profile_id",
        row["id"],
    )
    return Party(
        id=row["id"],
        host_user_id=row["host_user_id"],
        host_profile_id=row["host_profile_id"],
        item_id=row["item_id"],
        queue=tuple(row["queue"]),
        invite_code=row["invite_code"],
        code_expires_at=row["code_expires_at"],
        control=row["control"],
        state=row["state"],
        position_ms=row["position_ms"],
        state_changed_at=row["state_changed_at"],
        ended_at=row["ended_at"],
        created_at=row["created_at"],
        members=tuple(_member(m) for m in members),
    )


async def _all_visible(
    conn: asyncpg.Connection, visibility: VisibilityFilter, item_ids: Sequence[uuid.UUID]
) -> bool:
    if visibility.nothing_visible:
        return False
    wanted = sorted(set(item_ids))
    values: list[Any] = [wanted]

    def add(value: Any, sql_type: str) -> str:
        values.append(value)
        return f"${len(values)}::{sql_type}"

    visible = "".join(f" AND {c}" for c in visibility_conditions(visibility, add, "i"))
    count: int = await conn.fetchval(
        f"SELECT count(*) FROM media_items AS i WHERE i.id = ANY($1::uuid[]){visible}", *values
    )
    return count == len(wanted)


async def _locked_membership(
    conn: asyncpg.Connection, viewer: Viewer, party_id: uuid.UUID
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """The party row (locked) and the viewer's present membership; NotFound otherwise."""
    party_row = await conn.fetchrow(
        "SELECT * FROM watch_parties WHERE id = $1 FOR UPDATE", party_id
    )
    if party_row is None:
        raise _not_found()
    member = await conn.fetchrow(
        "SELECT * FROM watch_party_members WHERE party_id = $1 AND user_id = $2 "
        "AND profile_id = $3 AND left_at IS NULL",
        party_id,
        viewer.user_id,
        viewer.profile_id,
    )
    if member is None:
        raise _not_found()
    return party_row, member


def _refuse_ended(party_row: asyncpg.Record) -> None:
    if party_row["state"] == "ended":
        raise BadUserInput("this watch party has ended")


async def create_party(
    pool: asyncpg.Pool,
    viewer: Viewer,
    visibility: VisibilityFilter,
    item_id: uuid.UUID,
    *,
    queue: Sequence[uuid.UUID] = (),
    control: str = "host",
    code_lifetime_seconds: int = 24 * 3600,
    now: datetime | None = None,
) -> Party:
    """A new party hosted by the viewer, waiting at the start of ``item_id``."""
    if control not in CONTROLS:
        raise BadUserInput(f"control must be one of {', '.join(CONTROLS)}", argument="control")
    if len(queue) > MAX_QUEUE:
        raise BadUserInput(f"a queue holds at most {MAX_QUEUE} items", argument="queue")
    if not 60 <= code_lifetime_seconds <= 30 * 24 * 3600:
        raise BadUserInput(
            "an invite code lives between a minute and 30 days", argument="codeLifetimeSeconds"
        )
    at = _now(now)
    async with pool.acquire() as conn, conn.transaction():
        if not await _all_visible(conn, visibility, [item_id, *queue]):
            raise NotFound("item not found")
        row = await conn.fetchrow(
            "INSERT INTO watch_parties (host_user_id, host_profile_id, item_id, queue, "
            "invite_code, code_expires_at, control, state_changed_at) "
            "VALUES ($1, $2, $3, $4::uuid[], $5, $6, $7, $8) RETURNING *",
            viewer.user_id,
            viewer.profile_id,
            item_id,
            list(queue),
            new_invite_code(),
            at + timedelta(seconds=code_lifetime_seconds),
            control,
            at,
        )
        await conn.execute(
            "INSERT INTO watch_party_members (party_id, user_id, profile_id, role, "
            "last_seen_at, joined_at) VALUES ($1, $2, $3, 'host', $4, $4)",
            row["id"],
            viewer.user_id,
            viewer.profile_id,
            at,
        )
        return await _load(conn, row)


async def join_party(
    pool: asyncpg.Pool,
    viewer: Viewer,
    visibility: VisibilityFilter,
    code: str,
    now: datetime | None = None,
) -> Party:
    """Join by invite code; joining again (also after leaving) answers the party."""
    clean = code.strip().upper()
    at = _now(now)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT * FROM watch_parties WHERE invite_code = $1 FOR UPDATE", clean
        )
        if row is None:
            raise NotFound("no watch party has this invite code", argument="code")
        _refuse_ended(row)
        if row["code_expires_at"] <= at:
            raise BadUserInput("this invite code has expired", argument="code")
        if not await _all_visible(conn, visibility, [row["item_id"], *row["queue"]]):
            raise Forbidden("this watch party plays something this profile may not see")
        present = await conn.fetchval(
            "SELECT left_at IS NULL FROM watch_party_members "
            "WHERE party_id = $1 AND user_id = $2 AND profile_id = $3",
            row["id"],
            viewer.user_id,
            viewer.profile_id,
        )
        if present:
            return await _load(conn, row)
        count: int = await conn.fetchval(
            "SELECT count(*) FROM watch_party_members WHERE party_id = $1 AND left_at IS NULL",
            row["id"],
        )
        if count >= MAX_MEMBERS:
            raise BadUserInput(f"this watch party is full ({MAX_MEMBERS} members)")
        await conn.execute(
            "INSERT INTO watch_party_members (party_id, user_id, profile_id, role, "
            "last_seen_at, joined_at) VALUES ($1, $2, $3, 'member', $4, $4) "
            "ON CONFLICT (party_id, user_id, profile_id) DO UPDATE SET role = 'member', "
            "is_ready = false, position_ms = 0, last_seen_at = $4, joined_at = $4, "
            "left_at = NULL",
            row["id"],
            viewer.user_id,
            viewer.profile_id,
            at,
        )
        return await _load(conn, row)


async def leave_party(
    pool: asyncpg.Pool, viewer: Viewer, party_id: uuid.UUID, now: datetime | None = None
) -> Party:
    """Leave; a leaving host hands over to the longest-present co-host, else member; the last
    one out ends the party. Returns the party as the others now see it."""
    at = _now(now)
    async with pool.acquire() as conn, conn.transaction():
        _, member = await _locked_membership(conn, viewer, party_id)
        await conn.execute(
            "UPDATE watch_party_members SET left_at = $4, is_ready = false, "
            "role = CASE WHEN role = 'host' THEN 'member' ELSE role END "
            "WHERE party_id = $1 AND user_id = $2 AND profile_id = $3",
            party_id,
            viewer.user_id,
            viewer.profile_id,
            at,
        )
        successor = await conn.fetchrow(
            "SELECT user_id, profile_id FROM watch_party_members "
            "WHERE party_id = $1 AND left_at IS NULL "
            "ORDER BY role = 'cohost' DESC, joined_at, user_id, profile_id LIMIT 1",
            party_id,
        )
        if successor is None:
            await conn.execute(
                "UPDATE watch_parties SET state = 'ended', ended_at = $2, state_changed_at = $2 "
                "WHERE id = $1 AND state <> 'ended'",
                party_id,
                at,
            )
        elif member["role"] == "host":
            await _make_host(conn, party_id, successor["user_id"], successor["profile_id"])
        row = await conn.fetchrow("SELECT * FROM watch_parties WHERE id = $1", party_id)
        return await _load(conn, row)


async def _make_host(
    conn: asyncpg.Connection, party_id: uuid.UUID, user_id: uuid.UUID, profile_id: uuid.UUID
) -> None:
    await conn.execute(
        "UPDATE watch_party_members SET role = 'cohost' "
        "WHERE party_id = $1 AND role = 'host' AND left_at IS NULL",
        party_id,
    )
    await conn.execute(
        "UPDATE watch_party_members SET role = 'host' "
        "WHERE party_id = $1 AND user_id = $2 AND profile_id = $3",
        party_id,
        user_id,
        profile_id,
    )
    await conn.execute(
        "UPDATE watch_parties SET host_user_id = $2, host_profile_id = $3 WHERE id = $1",
        party_id,
        user_id,
        profile_id,
    )


async def party(pool: asyncpg.Pool, viewer: Viewer, party_id: uuid.UUID) -> Party | None:
    """The party, for its present members; ``None`` for anyone else."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT p.* FROM watch_parties AS p JOIN watch_party_members AS m "
            "ON m.party_id = p.id AND m.user_id = $2 AND m.profile_id = $3 "
            "AND m.left_at IS NULL WHERE p.id = $1",
            party_id,
            viewer.user_id,
            viewer.profile_id,
        )
        if row is None:
            return None
        return await _load(conn, row)


async def set_role(
    pool: asyncpg.Pool,
    viewer: Viewer,
    party_id: uuid.UUID,
    user_id: uuid.UUID,
    profile_id: uuid.UUID,
    role: str,
) -> Party:
    """The host makes a member co-host or member again, or hands host over (``"host"``: the
    old host becomes a co-host)."""
    if role not in ROLES:
        raise BadUserInput(f"role must be one of {', '.join(ROLES)}", argument="role")
    async with pool.acquire() as conn, conn.transaction():
        row, member = await _locked_membership(conn, viewer, party_id)
        if member["role"] != "host":
            raise Forbidden("only the host changes roles")
        if (user_id, profile_id) == (viewer.user_id, viewer.profile_id):
            raise BadUserInput("the host hands over by making another member host")
        target = await conn.fetchval(
            "SELECT 1 FROM watch_party_members WHERE party_id = $1 AND user_id = $2 "
            "AND profile_id = $3 AND left_at IS NULL",
            party_id,
            user_id,
            profile_id,
        )
        if target is None:
            raise NotFound("no such member in this watch party")
        if role == "host":
            await _make_host(conn, party_id, user_id, profile_id)
            row = await conn.fetchrow("SELECT * FROM watch_parties WHERE id = $1", party_id)
        else:
            await conn.execute(
                "UPDATE watch_party_members SET role = $4 "
                "WHERE party_id = $1 AND user_id = $2 AND profile_id = $3",
                party_id,
                user_id,
                profile_id,
                role,
            )
        return await _load(conn, row)


def _may_control(control: str, role: str) -> bool:
    if control == "everyone":
        return True
    if control == "hosts":
        return role in ("host", "cohost")
    return role == "host"


async def command(
    pool: asyncpg.Pool,
    viewer: Viewer,
    party_id: uuid.UUID,
    kind: str,
    *,
    position_ms: int | None = None,
    now: datetime | None = None,
) -> Party:
    """Play, pause, seek or skip to the next queued item, as the party's control allows.

    ``play`` and ``pause`` keep the expected position unless one is given; ``seek`` needs one;
    ``next`` loads the next queued item at 0, waiting for players to get ready, and ends the
    party when the queue is empty.
    """
    if kind not in KINDS:
        raise BadUserInput(f"kind must be one of {', '.join(KINDS)}", argument="kind")
    if position_ms is not None and position_ms < 0:
        raise BadUserInput("position must not be negative", argument="positionMs")
    if kind == "seek" and position_ms is None:
        raise BadUserInput("seek needs a position", argument="positionMs")
    at = _now(now)
    async with pool.acquire() as conn, conn.transaction():
        row, member = await _locked_membership(conn, viewer, party_id)
        _refuse_ended(row)
        if not _may_control(row["control"], member["role"]):
            raise Forbidden("this watch party's control does not let you do that")
        current = await _load(conn, row)
        expected = expected_position_ms(current, at)
        if kind == "next":
            row = await _advance(conn, current, at)
        else:
            state = {"play": "playing", "pause": "paused", "seek": current.state}[kind]
            # Playing starts at a server time everyone can reach: the position holds until then.
            starts = at + start_lead(current) if state == "playing" else at
            row = await conn.fetchrow(
                "UPDATE watch_parties SET state = $2, position_ms = $3, state_changed_at = $4 "
                "WHERE id = $1 RETURNING *",
                party_id,
                state,
                expected if position_ms is None else position_ms,
                starts,
            )
        return await _load(conn, row)


async def _advance(conn: asyncpg.Connection, current: Party, at: datetime) -> asyncpg.Record:
    if not current.queue:
        row: asyncpg.Record = await conn.fetchrow(
            "UPDATE watch_parties SET state = 'ended', ended_at = $2, state_changed_at = $2 "
            "WHERE id = $1 RETURNING *",
            current.id,
            at,
        )
        return row
    await conn.execute(
        "UPDATE watch_party_members SET is_ready = false, position_ms = 0 "
        "WHERE party_id = $1 AND left_at IS NULL",
        current.id,
    )
    advanced: asyncpg.Record = await conn.fetchrow(
        "UPDATE watch_parties SET item_id = $2, queue = $3::uuid[], state = 'waiting', "
        "position_ms = 0, state_changed_at = $4 WHERE id = $1 RETURNING *",
        current.id,
        current.queue[0],
        list(current.queue[1:]),
        at,
    )
    return advanced


async def report_member(
    pool: asyncpg.Pool,
    viewer: Viewer,
    party_id: uuid.UUID,
    position_ms: int,
    is_ready: bool,
    now: datetime | None = None,
    latency_ms: int | None = None,
) -> PartyMember:
    """A member's player says where it is, whether it is ready, and its round trip."""
    if position_ms < 0:
        raise BadUserInput("position must not be negative", argument="positionMs")
    if latency_ms is not None and not 0 <= latency_ms <= MAX_LATENCY_MS:
        raise BadUserInput(f"latency must be 0 to {MAX_LATENCY_MS} ms", argument="latencyMs")
    row = await pool.fetchrow(
        "UPDATE watch_party_members SET position_ms = $4, is_ready = $5, last_seen_at = $6, "
        "latency_ms = coalesce($7, latency_ms) "
        "WHERE party_id = $1 AND user_id = $2 AND profile_id = $3 AND left_at IS NULL "
        "RETURNING *",
        party_id,
        viewer.user_id,
        viewer.profile_id,
        position_ms,
        is_ready,
        _now(now),
        latency_ms,
    )
    if row is None:
        raise _not_found()
    return _member(row)


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
            raise _not_found()
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
            raise _not_found()
    return [_message(r) for r in rows]
