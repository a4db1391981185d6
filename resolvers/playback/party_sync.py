"""Keeping a watch party in step: commands, members' reports, waiting for players, drift hints.

A start is always scheduled at a server time every member can reach (``start_lead``). A party
that should play but has a member whose player is not ready (a transcode still starting, a
buffer run dry) waits: its state is ``waiting`` with ``play_when_ready`` set, and it starts by
itself when the last online member reports ready, or at ``wait_deadline`` when one never does.
Waits that lapse are released by ``release_lapsed_waits``, which every replica may run: the
``UPDATE … RETURNING`` hands each lapsed party to exactly one of them.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from infra.background import cancel_and_wait
from infra.bus import EventBus
from infra.database import log_failure
from infra.errors import BadUserInput, Forbidden, RateLimited
from resolvers.playback.parties import (
    MIN_START_LEAD_MS,
    Party,
    PartyMember,
    load_party,
    locked_membership,
    member_of,
    not_found,
    refuse_ended,
    start_if_ready,
    start_lead,
)
from resolvers.playback.party_events import publish_party
from resolvers.playback.sessions import Viewer

__all__ = [
    "COMMANDS_PER_WINDOW",
    "COMMAND_WINDOW_SECONDS",
    "IN_SYNC_MS",
    "KINDS",
    "MAX_LATENCY_MS",
    "MIN_REPORT_INTERVAL_MS",
    "SEEK_ABOVE_MS",
    "MemberReport",
    "PartyWaits",
    "SyncHint",
    "command",
    "expected_position_ms",
    "release_lapsed_waits",
    "report_member",
    "sync_hint",
]

log = structlog.get_logger("revenge.playback.parties")

KINDS = ("play", "pause", "seek", "next")
COMMANDS_PER_WINDOW = 10
COMMAND_WINDOW_SECONDS = 10
# Players report about once a second; faster than this is a flood, refused unless the report
# changes the member's readiness (which must never wait).
MIN_REPORT_INTERVAL_MS = 200
MAX_LATENCY_MS = 60_000
IN_SYNC_MS = 40
SEEK_ABOVE_MS = 400
DEFAULT_READY_TIMEOUT = timedelta(seconds=15)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def expected_position_ms(party: Party, at: datetime) -> int:
    """Where a player should be at ``at``: the stored position, plus the time since it was
    stored while the party plays."""
    if party.state != "playing":
        return party.position_ms
    elapsed = (at - party.state_changed_at) // timedelta(milliseconds=1)
    return party.position_ms + max(0, elapsed)


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


def _may_control(control: str, role: str) -> bool:
    if control == "everyone":
        return True
    if control == "hosts":
        return role in ("host", "cohost")
    return role == "host"


async def _count_command(
    conn: asyncpg.Connection, viewer: Viewer, party_id: uuid.UUID, at: datetime
) -> None:
    """Count the command in the member's window; refuse it beyond the limit. The caller holds
    the party row's lock, so two commands of one member cannot both take the last place."""
    count = await conn.fetchval(
        "UPDATE watch_party_members SET commands_in_window = CASE WHEN open_window "
        "THEN commands_in_window + 1 ELSE 1 END, command_window_start = CASE WHEN open_window "
        "THEN command_window_start ELSE $4::timestamptz END FROM (SELECT coalesce("
        "command_window_start > $4::timestamptz - make_interval(secs => $5), false) AS open_window "
        "FROM watch_party_members WHERE party_id = $1 AND user_id = $2 AND profile_id = $3) AS w "
        "WHERE party_id = $1 AND user_id = $2 AND profile_id = $3 RETURNING commands_in_window",
        party_id,
        viewer.user_id,
        viewer.profile_id,
        at,
        float(COMMAND_WINDOW_SECONDS),
    )
    if count > COMMANDS_PER_WINDOW:
        raise RateLimited(
            f"at most {COMMANDS_PER_WINDOW} commands per {COMMAND_WINDOW_SECONDS} seconds",
            retry_after_seconds=COMMAND_WINDOW_SECONDS,
        )


async def command(
    pool: asyncpg.Pool,
    viewer: Viewer,
    party_id: uuid.UUID,
    kind: str,
    *,
    position_ms: int | None = None,
    ready_timeout: timedelta = DEFAULT_READY_TIMEOUT,
    now: datetime | None = None,
) -> Party:
    """Play, pause, seek or skip to the next queued item, as the party's control allows.

    ``play`` and ``pause`` keep the expected position unless one is given; ``seek`` needs one.
    ``play`` starts at now plus the start lead when every online member is ready; otherwise the
    party waits for them (at most ``ready_timeout``). ``next`` loads the next queued item at 0
    and waits the same way; it ends the party when the queue is empty.
    """
    if kind not in KINDS:
        raise BadUserInput(f"kind must be one of {', '.join(KINDS)}", argument="kind")
    if position_ms is not None and position_ms < 0:
        raise BadUserInput("position must not be negative", argument="positionMs")
    if kind == "seek" and position_ms is None:
        raise BadUserInput("seek needs a position", argument="positionMs")
    at = _now(now)
    async with pool.acquire() as conn, conn.transaction():
        row, member = await locked_membership(conn, viewer, party_id)
        refuse_ended(row)
        if not _may_control(row["control"], member["role"]):
            raise Forbidden("this watch party's control does not let you do that")
        await _count_command(conn, viewer, party_id, at)
        current = await load_party(conn, row)
        if kind == "next":
            return await _advance(conn, current, at, ready_timeout)
        position = expected_position_ms(current, at) if position_ms is None else position_ms
        if kind == "pause":
            state, starts, wait = "paused", at, False
        elif kind == "play" or current.state == "playing":
            # Play, or seek while playing: start again at a time everyone can reach.
            state, starts, wait = "playing", at + start_lead(current), False
            if current.waiting_for(at):
                state, starts, wait = "waiting", at, True
        else:  # seek while paused or waiting: the position moves, the state stays
            state, starts, wait = current.state, at, current.play_when_ready
        row = await conn.fetchrow(
            "UPDATE watch_parties SET state = $2, position_ms = $3, state_changed_at = $4, "
            "play_when_ready = $5, wait_deadline = CASE WHEN $5 THEN "
            "coalesce(CASE WHEN play_when_ready THEN wait_deadline END, $6) END "
            "WHERE id = $1 RETURNING *",
            party_id,
            state,
            position,
            starts,
            wait,
            at + ready_timeout,
        )
        return await load_party(conn, row, current.members)


async def _advance(
    conn: asyncpg.Connection, current: Party, at: datetime, ready_timeout: timedelta
) -> Party:
    if not current.queue:
        ended = await conn.fetchrow(
            "UPDATE watch_parties SET state = 'ended', ended_at = $2, state_changed_at = $2, "
            "play_when_ready = false, wait_deadline = NULL WHERE id = $1 RETURNING *",
            current.id,
            at,
        )
        return await load_party(conn, ended)
    await conn.execute(
        "UPDATE watch_party_members SET is_ready = false, position_ms = 0 "
        "WHERE party_id = $1 AND left_at IS NULL",
        current.id,
    )
    advanced = await conn.fetchrow(
        "UPDATE watch_parties SET item_id = $2, queue = $3::uuid[], state = 'waiting', "
        "position_ms = 0, state_changed_at = $4, play_when_ready = true, wait_deadline = $5 "
        "WHERE id = $1 RETURNING *",
        current.id,
        current.queue[0],
        list(current.queue[1:]),
        at,
        at + ready_timeout,
    )
    return await load_party(conn, advanced)


@dataclass(frozen=True, slots=True)
class MemberReport:
    """A member's report as stored, the party after it, and what it changed for everyone:
    ``"waiting"`` (this player holds the party), ``"resume"`` (the last one got ready) or
    ``None``."""

    member: PartyMember
    party: Party
    change: str | None


async def report_member(
    pool: asyncpg.Pool,
    viewer: Viewer,
    party_id: uuid.UUID,
    position_ms: int,
    is_ready: bool,
    now: datetime | None = None,
    latency_ms: int | None = None,
    *,
    ready_timeout: timedelta = DEFAULT_READY_TIMEOUT,
) -> MemberReport:
    """A member's player says where it is, whether it is ready, and its round trip.

    A member that is not ready while the party plays holds it (``waiting``); the last member
    to get ready starts a waiting party.
    """
    if position_ms < 0:
        raise BadUserInput("position must not be negative", argument="positionMs")
    if latency_ms is not None and not 0 <= latency_ms <= MAX_LATENCY_MS:
        raise BadUserInput(f"latency must be 0 to {MAX_LATENCY_MS} ms", argument="latencyMs")
    at = _now(now)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "UPDATE watch_party_members SET position_ms = $4, is_ready = $5, last_seen_at = $6, "
            "latency_ms = coalesce($7, latency_ms) "
            "WHERE party_id = $1 AND user_id = $2 AND profile_id = $3 AND left_at IS NULL "
            "AND (is_ready <> $5 OR last_seen_at <= $6::timestamptz - make_interval(secs => $8)) "
            "RETURNING *",
            party_id,
            viewer.user_id,
            viewer.profile_id,
            position_ms,
            is_ready,
            at,
            latency_ms,
            MIN_REPORT_INTERVAL_MS / 1000,
        )
        if row is None:
            present = await conn.fetchval(
                "SELECT 1 FROM watch_party_members WHERE party_id = $1 AND user_id = $2 "
                "AND profile_id = $3 AND left_at IS NULL",
                party_id,
                viewer.user_id,
                viewer.profile_id,
            )
            if present is None:
                raise not_found()
            raise RateLimited(
                f"report at most every {MIN_REPORT_INTERVAL_MS} ms",
                retry_after_seconds=1,
            )
        party_row = await conn.fetchrow("SELECT * FROM watch_parties WHERE id = $1", party_id)
        holds = not is_ready and party_row["state"] == "playing"
        releases = is_ready and party_row["play_when_ready"]
        if not (holds or releases):
            return MemberReport(member_of(row), await load_party(conn, party_row), None)
        async with conn.transaction():
            party_row = await conn.fetchrow(
                "SELECT * FROM watch_parties WHERE id = $1 FOR UPDATE", party_id
            )
            current = await load_party(conn, party_row)
            if holds and current.state == "playing":
                held = await conn.fetchrow(
                    "UPDATE watch_parties SET state = 'waiting', position_ms = $2, "
                    "state_changed_at = $3, play_when_ready = true, wait_deadline = $4 "
                    "WHERE id = $1 RETURNING *",
                    party_id,
                    expected_position_ms(current, at),
                    at,
                    at + ready_timeout,
                )
                return MemberReport(member_of(row), await load_party(conn, held), "waiting")
            started = await start_if_ready(conn, current, at) if releases else None
            if started is not None:
                return MemberReport(member_of(row), started, "resume")
            return MemberReport(member_of(row), current, None)


async def release_lapsed_waits(pool: asyncpg.Pool, now: datetime | None = None) -> list[Party]:
    """Start the parties whose wait for ready players has lapsed; returns them, each handed
    to exactly one caller even when every replica runs this at once: the ``UPDATE`` re-checks
    ``play_when_ready`` on the row it locks, so a second caller skips a party the first started."""
    at = _now(now)
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "UPDATE watch_parties AS p SET state = 'playing', play_when_ready = false, "
            "wait_deadline = NULL, state_changed_at = $1 + make_interval(secs => greatest($2, "
            "2 * coalesce((SELECT max(m.latency_ms) FROM watch_party_members AS m "
            "WHERE m.party_id = p.id AND m.left_at IS NULL), 0)) / 1000.0) "
            "WHERE p.play_when_ready AND p.wait_deadline <= $1 RETURNING p.*",
            at,
            MIN_START_LEAD_MS,
        )
        return [await load_party(conn, row) for row in rows]


class PartyWaits:
    """Releases lapsed waits twice a second and tells the parties' members (opened in the
    lifespan, like the lease reaper)."""

    INTERVAL_SECONDS = 0.5

    def __init__(self, pool: asyncpg.Pool, bus: EventBus) -> None:
        self.pool = pool
        self.bus = bus
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="watch-party-waits")

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def release(self, now: datetime | None = None) -> int:
        started = await release_lapsed_waits(self.pool, now)
        for party in started:
            await publish_party(self.bus, "resume", party)
        return len(started)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.INTERVAL_SECONDS)
            try:
                await self.release()
            except Exception as error:
                log_failure(log, "releasing lapsed watch-party waits failed", error)
