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
from infra.errors import BadUserInput, Forbidden, NotFound
from loaders.visibility import visibility_conditions
from resolvers.playback.sessions import Viewer

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "CONTROLS",
    "MAX_MEMBERS",
    "MIN_START_LEAD_MS",
    "PRESENCE_SECONDS",
    "ROLES",
    "Party",
    "PartyMember",
    "PartyMessage",
    "all_visible",
    "create_party",
    "join_party",
    "leave_party",
    "load_party",
    "locked_membership",
    "member_of",
    "new_invite_code",
    "not_found",
    "party",
    "refuse_ended",
    "set_role",
    "start_if_ready",
    "start_lead",
    "start_playing",
]

# 32 symbols without the look-alikes 0/O and 1/I: 10 of them are 50 bits of chance.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 10
CONTROLS = ("host", "hosts", "everyone")
ROLES = ("host", "cohost", "member")
MAX_MEMBERS = 50
MIN_START_LEAD_MS = 500
MAX_QUEUE = 200
# A member whose player has not reported for this long counts as away: it is still listed, but
# it no longer holds the party while others wait for players to get ready.
PRESENCE_SECONDS = 30


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
    # The member's profile name when they joined.
    display_name: str = ""

    def is_online(self, at: datetime) -> bool:
        return at - self.last_seen_at <= timedelta(seconds=PRESENCE_SECONDS)


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
    # While waiting: start by itself once every online member is ready, or at the deadline.
    play_when_ready: bool = False
    wait_deadline: datetime | None = None
    # Bumped by every change, in commit order: the newest state has the highest version.
    version: int = 0

    def waiting_for(self, at: datetime) -> tuple[PartyMember, ...]:
        """The online members whose players are not ready yet."""
        return tuple(m for m in self.members if m.is_online(at) and not m.is_ready)


@dataclass(frozen=True, slots=True)
class PartyMessage:
    id: uuid.UUID
    party_id: uuid.UUID
    user_id: uuid.UUID
    profile_id: uuid.UUID
    body: str
    created_at: datetime


def start_lead(party: Party) -> timedelta:
    """How far ahead a start is scheduled: twice the slowest member's round trip, at least
    half a second, so every member hears of it before it happens."""
    slowest = max((m.latency_ms or 0 for m in party.members), default=0)
    return timedelta(milliseconds=max(2 * slowest, MIN_START_LEAD_MS))


async def start_playing(conn: asyncpg.Connection, current: Party, at: datetime) -> Party:
    """Play from the held position at ``at`` plus the start lead, ending any wait."""
    row = await conn.fetchrow(
        "UPDATE watch_parties SET state = 'playing', state_changed_at = $2, "
        "play_when_ready = false, wait_deadline = NULL WHERE id = $1 RETURNING *",
        current.id,
        at + start_lead(current),
    )
    return await load_party(conn, row)


async def start_if_ready(conn: asyncpg.Connection, current: Party, at: datetime) -> Party | None:
    """A waiting party whose online members are all ready starts; the started party, or None
    when it goes on waiting (or was not waiting to play)."""
    if not current.play_when_ready or current.waiting_for(at):
        return None
    return await start_playing(conn, current, at)


def new_invite_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def not_found() -> NotFound:
    return NotFound("watch party not found")


def member_of(row: asyncpg.Record) -> PartyMember:
    return PartyMember(
        user_id=row["user_id"],
        profile_id=row["profile_id"],
        role=row["role"],
        is_ready=row["is_ready"],
        position_ms=row["position_ms"],
        last_seen_at=row["last_seen_at"],
        joined_at=row["joined_at"],
        latency_ms=row["latency_ms"],
        display_name=row["display_name"],
    )


async def load_party(
    conn: asyncpg.Connection,
    row: asyncpg.Record,
    members: tuple[PartyMember, ...] | None = None,
) -> Party:
    """The party of ``row`` with its present members: read now, or ``members`` when the
    caller holds the row lock and knows they did not change."""
    if members is None:
        records = await conn.fetch(
            "SELECT * FROM watch_party_members WHERE party_id = $1 AND left_at IS NULL "
            "ORDER BY joined_at, user_id, profile_id",
            row["id"],
        )
        members = tuple(member_of(m) for m in records)
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
        members=members,
        play_when_ready=row["play_when_ready"],
        wait_deadline=row["wait_deadline"],
        version=row["version"],
    )


async def all_visible(
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


async def locked_membership(
    conn: asyncpg.Connection, viewer: Viewer, party_id: uuid.UUID
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """The party row (locked) and the viewer's present membership; NotFound otherwise."""
    party_row = await conn.fetchrow(
        "SELECT * FROM watch_parties WHERE id = $1 FOR UPDATE", party_id
    )
    if party_row is None:
        raise not_found()
    member = await conn.fetchrow(
        "SELECT * FROM watch_party_members WHERE party_id = $1 AND user_id = $2 "
        "AND profile_id = $3 AND left_at IS NULL",
        party_id,
        viewer.user_id,
        viewer.profile_id,
    )
    if member is None:
        raise not_found()
    return party_row, member


def refuse_ended(party_row: asyncpg.Record) -> None:
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
        if not await all_visible(conn, visibility, [item_id, *queue]):
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
            "last_seen_at, joined_at, display_name) VALUES ($1, $2, $3, 'host', $4, $4, "
            "(SELECT name FROM profiles WHERE id = $3))",
            row["id"],
            viewer.user_id,
            viewer.profile_id,
            at,
        )
        return await load_party(conn, row)


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
        refuse_ended(row)
        if row["code_expires_at"] <= at:
            raise BadUserInput("this invite code has expired", argument="code")
        if not await all_visible(conn, visibility, [row["item_id"], *row["queue"]]):
            raise Forbidden("this watch party plays something this profile may not see")
        present = await conn.fetchval(
            "SELECT left_at IS NULL FROM watch_party_members "
            "WHERE party_id = $1 AND user_id = $2 AND profile_id = $3",
            row["id"],
            viewer.user_id,
            viewer.profile_id,
        )
        if present:
            return await load_party(conn, row)
        count: int = await conn.fetchval(
            "SELECT count(*) FROM watch_party_members WHERE party_id = $1 AND left_at IS NULL",
            row["id"],
        )
        if count >= MAX_MEMBERS:
            raise BadUserInput(f"this watch party is full ({MAX_MEMBERS} members)")
        await conn.execute(
            "INSERT INTO watch_party_members (party_id, user_id, profile_id, role, "
            "last_seen_at, joined_at, display_name) VALUES ($1, $2, $3, 'member', $4, $4, "
            "(SELECT name FROM profiles WHERE id = $3)) "
            "ON CONFLICT (party_id, user_id, profile_id) DO UPDATE SET role = 'member', "
            "is_ready = false, position_ms = 0, last_seen_at = $4, joined_at = $4, "
            "left_at = NULL, display_name = EXCLUDED.display_name",
            row["id"],
            viewer.user_id,
            viewer.profile_id,
            at,
        )
        return await load_party(conn, await _touch(conn, row["id"]))


async def leave_party(
    pool: asyncpg.Pool, viewer: Viewer, party_id: uuid.UUID, now: datetime | None = None
) -> Party:
    """Leave; a leaving host hands over to the longest-present co-host, else member; the last
    one out ends the party. Returns the party as the others now see it."""
    at = _now(now)
    async with pool.acquire() as conn, conn.transaction():
        _, member = await locked_membership(conn, viewer, party_id)
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
                "UPDATE watch_parties SET state = 'ended', ended_at = $2, state_changed_at = $2, "
                "play_when_ready = false, wait_deadline = NULL WHERE id = $1 AND state <> 'ended'",
                party_id,
                at,
            )
        elif member["role"] == "host":
            await _make_host(conn, party_id, successor["user_id"], successor["profile_id"])
        remaining = await load_party(conn, await _touch(conn, party_id))
        # The one the others were waiting for may be the one who left.
        started = await start_if_ready(conn, remaining, at)
        return remaining if started is None else started


async def _touch(conn: asyncpg.Connection, party_id: uuid.UUID) -> asyncpg.Record:
    """The party row after a change to its members, with its version bumped (a trigger does
    that on every update) so subscribers can order the event."""
    row: asyncpg.Record = await conn.fetchrow(
        "UPDATE watch_parties SET updated_at = now() WHERE id = $1 RETURNING *", party_id
    )
    return row


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
        return await load_party(conn, row)


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
        _, member = await locked_membership(conn, viewer, party_id)
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
        else:
            await conn.execute(
                "UPDATE watch_party_members SET role = $4 "
                "WHERE party_id = $1 AND user_id = $2 AND profile_id = $3",
                party_id,
                user_id,
                profile_id,
                role,
            )
        return await load_party(conn, await _touch(conn, party_id))
