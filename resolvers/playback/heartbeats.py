"""Coalesced heartbeats: ``reportProgress`` from thousands of sessions at a bounded write rate.

``record`` checks the caller's profile owns the session (one query the first time a session
reports, then memory), applies the resume rules (``resume_state``) with the item's duration
cached alongside the owner, publishes ``paused`` / ``resumed`` / ``scrobble`` at once, and keeps
only the latest heartbeat per session in memory. A background task flushes every ``interval``
seconds with one ``UPDATE … FROM unnest(…)`` on ``playback_sessions`` and one ``INSERT … ON
CONFLICT`` on ``user_data``, whatever the number of sessions. A scrobble (the played threshold
crossed) is flushed at once, so a play is never lost; ``close`` flushes what is left, so a clean
stop loses nothing and a crash loses at most one interval of positions.

Several processes may each hold reports of one session (a client's requests land on any of
them). Each report carries the client's time (``reportedAt``, else the time it arrived), and
``playback_sessions.reported_at`` keeps the time of the newest report applied: the flush writes
a report's position only when it is at least as new, under the row lock of its ``UPDATE``, so
the newest report wins whichever process flushes last. Plays are counted whatever the order.
The ownership cache is safe per process: owner, profile and item never change for a session, and
a stop made elsewhere shows in the flush's ``RETURNING`` (the session refuses reports from then).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import structlog

from infra.background import cancel_and_wait
from infra.bus import EventBus
from infra.database import log_failure
from infra.errors import BadUserInput, NotFound
from resolvers.playback.leases import publish_playback
from resolvers.playback.progress import (
    DURATION_SLACK_MS,
    Progress,
    check_heartbeat,
    checked_report_time,
)
from resolvers.playback.resume import ResumeRules, resume_state
from resolvers.playback.sessions import TOPIC, Viewer, _event

__all__ = ["DEFAULT_INTERVAL_SECONDS", "HeartbeatCoalescer"]

log = structlog.get_logger("revenge.playback.heartbeats")

DEFAULT_INTERVAL_SECONDS = 5.0
# A session that has not reported for this long leaves the ownership cache.
DEFAULT_IDLE_SECONDS = 15 * 60.0

_OWNER_SQL = (
    "SELECT s.user_id, s.profile_id, s.item_id, s.is_paused, s.is_scrobbled, s.stopped_at, "
    "coalesce(f.duration_ms, i.runtime_ms) AS duration_ms "
    "FROM playback_sessions AS s "
    "JOIN media_files AS f ON f.id = s.file_id JOIN media_items AS i ON i.id = s.item_id "
    "WHERE s.id = $1"
)

# A report at least as new as the newest applied (by the client's time) moves the session; an
# older one, flushed late by another process, only adds its play. ``last_heartbeat_at`` (the
# lease) takes the latest arrival either way.
_NEWER = "(s.reported_at IS NULL OR v.reported_at >= s.reported_at)"
_SESSIONS_SQL = (
    f"UPDATE playback_sessions AS s SET "
    f"position_ms = CASE WHEN {_NEWER} THEN v.position_ms ELSE s.position_ms END, "
    f"is_paused = CASE WHEN {_NEWER} THEN v.is_paused ELSE s.is_paused END, "
    f"buffered_ms = CASE WHEN {_NEWER} THEN coalesce(v.buffered_ms, s.buffered_ms) "
    f"ELSE s.buffered_ms END, "
    f"is_scrobbled = s.is_scrobbled OR v.played, "
    f"last_heartbeat_at = greatest(s.last_heartbeat_at, v.at), "
    f"reported_at = greatest(s.reported_at, v.reported_at) "
    f"FROM unnest($1::uuid[], $2::bigint[], $3::boolean[], $4::boolean[], $5::timestamptz[], "
    f"$6::bigint[], $7::timestamptz[]) "
    f"AS v(id, position_ms, is_paused, played, at, buffered_ms, reported_at) "
    f"WHERE s.id = v.id AND s.stopped_at IS NULL "
    f"RETURNING s.id, s.reported_at = v.reported_at AS applied"
)

_USER_DATA_SQL = (
    "INSERT INTO user_data "
    "(user_id, profile_id, item_id, position_ms, is_played, play_count, last_played_at) "
    "SELECT v.user_id, v.profile_id, v.item_id, v.position_ms, v.played, v.plays, v.at "
    "FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::boolean[], $6::int[], "
    "$7::timestamptz[]) AS v(user_id, profile_id, item_id, position_ms, played, plays, at) "
    "JOIN media_items AS i ON i.id = v.item_id JOIN profiles AS p ON p.id = v.profile_id "
    "ORDER BY v.profile_id, v.item_id "
    "ON CONFLICT (profile_id, item_id) DO UPDATE SET "
    # No time: the session kept a newer report (flushed by another process); only plays count.
    "position_ms = CASE WHEN EXCLUDED.last_played_at IS NULL THEN user_data.position_ms "
    "ELSE EXCLUDED.position_ms END, "
    "is_played = user_data.is_played OR EXCLUDED.is_played, "
    "play_count = user_data.play_count + EXCLUDED.play_count, "
    "last_played_at = coalesce(EXCLUDED.last_played_at, user_data.last_played_at)"
)


@dataclass(slots=True)
class _Owned:
    """What one query learned about a session, kept while it reports."""

    user_id: uuid.UUID
    profile_id: uuid.UUID
    item_id: uuid.UUID
    duration_ms: int | None
    is_paused: bool
    is_scrobbled: bool
    is_stopped: bool
    seen: float


@dataclass(slots=True)
class _Pending:
    """The latest heartbeat of one session, not yet written."""

    owned: _Owned
    position_ms: int  # the reported position (the session's)
    resume_ms: int  # the resume position (user_data's)
    is_paused: bool
    played: bool
    plays: int
    at: datetime  # when it arrived (renews the lease)
    reported_at: datetime  # the client's time, which orders reports of one session
    buffered_ms: int | None


class HeartbeatCoalescer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: EventBus,
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        rules: ResumeRules = ResumeRules(),
    ) -> None:
        self.pool = pool
        self.bus = bus
        self.interval = interval
        self.idle_seconds = idle_seconds
        self.rules = rules
        self._owned: dict[uuid.UUID, _Owned] = {}
        self._loading: dict[uuid.UUID, asyncio.Future[_Owned | None]] = {}
        self._pending: dict[uuid.UUID, _Pending] = {}
        self._flush_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.flushes = 0
        self.statements = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="heartbeat-flusher")

    async def close(self) -> None:
        """Stop the background task and write everything still pending."""
        task, self._task = self._task, None
        await cancel_and_wait(task)
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception as error:  # the entries went back; the next round retries them
                log_failure(log, "heartbeat flush failed", error, pending=len(self._pending))
            self._evict_idle()

    # -- recording ---------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _owner(self, session_id: uuid.UUID) -> _Owned:
        owned = self._owned.get(session_id)
        if owned is not None:
            return owned
        loading = self._loading.get(session_id)
        if loading is None:
            loading = asyncio.get_running_loop().create_future()
            self._loading[session_id] = loading
            try:
                row = await self.pool.fetchrow(_OWNER_SQL, session_id)
                found = None
                if row is not None:
                    found = _Owned(
                        user_id=row["user_id"],
                        profile_id=row["profile_id"],
                        item_id=row["item_id"],
                        duration_ms=row["duration_ms"],
                        is_paused=row["is_paused"],
                        is_scrobbled=row["is_scrobbled"],
                        is_stopped=row["stopped_at"] is not None,
                        seen=time.monotonic(),
                    )
                    self._owned[session_id] = found
                loading.set_result(found)
            except BaseException as error:
                loading.set_exception(error)
                loading.exception()  # retrieved: concurrent waiters re-raise it themselves
                raise
            finally:
                del self._loading[session_id]
        result = await asyncio.shield(loading)
        if result is None:
            raise NotFound("no such playback session", argument="sessionId")
        return result

    async def record(
        self,
        session_id: uuid.UUID,
        viewer: Viewer,
        position_ms: int,
        is_paused: bool | None = None,
        buffered_ms: int | None = None,
        reported_at: datetime | None = None,
    ) -> Progress:
        """A heartbeat: validated and judged now, written at the next flush. ``reported_at``
        is the client's time of the report (default: now); a time ahead of the server's counts
        as now, so a fast clock cannot freeze a session's position."""
        check_heartbeat(position_ms, buffered_ms)
        reported = checked_report_time(reported_at)
        arrived = datetime.now(UTC)
        owned = await self._owner(session_id)
        if owned.user_id != viewer.user_id or owned.profile_id != viewer.profile_id:
            raise NotFound("no such playback session", argument="sessionId")
        if owned.is_stopped:
            raise BadUserInput("this playback session has stopped", argument="sessionId")
        duration = owned.duration_ms
        if duration is not None and position_ms > duration + DURATION_SLACK_MS:
            raise BadUserInput("positionMs is past the end of the file", argument="positionMs")
        state = resume_state(position_ms, duration, self.rules)
        scrobble = state.is_played and not owned.is_scrobbled
        paused = owned.is_paused if is_paused is None else is_paused
        events = []
        if paused != owned.is_paused:
            events.append("paused" if paused else "resumed")
        if scrobble:
            events.append("scrobble")
        owned.is_paused = paused
        owned.is_scrobbled = owned.is_scrobbled or state.is_played
        owned.seen = time.monotonic()
        earlier = self._pending.get(session_id)
        if earlier is not None and earlier.reported_at > reported:
            # A newer report of this session is already pending: keep its position.
            earlier.played = earlier.played or state.is_played
            earlier.plays += 1 if scrobble else 0
            earlier.at = arrived
        else:
            self._pending[session_id] = _Pending(
                owned=owned,
                position_ms=position_ms,
                resume_ms=state.position_ms,
                is_paused=paused,
                played=state.is_played or (earlier is not None and earlier.played),
                plays=(1 if scrobble else 0) + (earlier.plays if earlier is not None else 0),
                at=arrived,
                reported_at=reported,
                buffered_ms=buffered_ms
                if buffered_ms is not None
                else (earlier.buffered_ms if earlier is not None else None),
            )
        for kind in events:
            await publish_playback(
                self.bus, TOPIC, _event(kind, viewer, session_id, owned.item_id, position_ms)
            )
        if scrobble:
            await self.flush()  # a play is worth a write now: never lose one to a crash
        return Progress(
            session_id=session_id,
            resume_position_ms=state.position_ms,
            is_played=state.is_played,
            is_paused=paused,
        )

    async def stopped(self, session_id: uuid.UUID) -> None:
        """Before ``stop_playback``: write the session's last position, then forget it."""
        if session_id in self._pending:
            await self.flush()
        self._owned.pop(session_id, None)

    def _evict_idle(self) -> None:
        horizon = time.monotonic() - self.idle_seconds
        for session_id in [s for s, o in self._owned.items() if o.seen < horizon]:
            if session_id not in self._pending:
                del self._owned[session_id]

    # -- flushing ----------------------------------------------------------------------------

    async def flush(self) -> int:
        """Write every pending heartbeat: one statement per table. Returns how many sessions."""
        async with self._flush_lock:
            if not self._pending:
                return 0
            batch, self._pending = self._pending, {}
            try:
                await self._write(batch)
            except BaseException:
                for session_id, entry in batch.items():  # newer heartbeats win over these
                    since = self._pending.get(session_id)
                    if since is not None and since.reported_at < entry.reported_at:
                        entry, since = since, entry  # arrived later, reported earlier
                    if since is None:
                        self._pending[session_id] = entry
                    else:
                        since.played = since.played or entry.played
                        since.plays += entry.plays
                        self._pending[session_id] = since
                raise
            self.flushes += 1
            return len(batch)

    async def _write(self, batch: dict[uuid.UUID, _Pending]) -> None:
        ids = sorted(batch)  # one lock order for every writer
        async with self.pool.acquire() as conn, conn.transaction():
            live = await conn.fetch(
                _SESSIONS_SQL,
                ids,
                [batch[s].position_ms for s in ids],
                [batch[s].is_paused for s in ids],
                [batch[s].played for s in ids],
                [batch[s].at for s in ids],
                [batch[s].buffered_ms for s in ids],
                [batch[s].reported_at for s in ids],
            )
            # A session that kept a newer report leaves the resume position alone; one stopped
            # meanwhile still gets its last position, as before it stopped.
            stale = {row["id"] for row in live if not row["applied"]}
            # Two sessions of one profile on one item are one user_data row: the latest wins the
            # position, a play from either counts.
            per_item: dict[tuple[uuid.UUID, uuid.UUID], _Pending | None] = {}
            plays: dict[tuple[uuid.UUID, uuid.UUID], tuple[bool, int]] = {}
            for session_id in ids:
                entry = batch[session_id]
                key = (entry.owned.profile_id, entry.owned.item_id)
                kept = per_item.get(key)
                if session_id not in stale and (kept is None or entry.at >= kept.at):
                    per_item[key] = entry
                else:
                    per_item.setdefault(key, None)
                played, count = plays.get(key, (False, 0))
                plays[key] = (played or entry.played, count + entry.plays)
            rows = [(key, entry or _first(batch, ids, key)) for key, entry in per_item.items()]
            moves = {key for key, entry in per_item.items() if entry is not None}
            await conn.execute(
                _USER_DATA_SQL,
                [entry.owned.user_id for _, entry in rows],
                [key[0] for key, _ in rows],
                [key[1] for key, _ in rows],
                [entry.resume_ms for _, entry in rows],
                [plays[key][0] for key, _ in rows],
                [plays[key][1] for key, _ in rows],
                [entry.at if key in moves else None for key, entry in rows],
            )
        self.statements += 2
        # A session that ended elsewhere (its lease lapsed, another replica stopped or replaced
        # it) refuses further heartbeats from now on.
        still_live = {row["id"] for row in live}
        for session_id in ids:
            if session_id not in still_live and (owned := self._owned.get(session_id)):
                owned.is_stopped = True


def _first(
    batch: dict[uuid.UUID, _Pending], ids: list[uuid.UUID], key: tuple[uuid.UUID, uuid.UUID]
) -> _Pending:
    """Any entry of ``key`` in the batch: its user and ids, when none of them moves the row."""
    return next(batch[s] for s in ids if (batch[s].owned.profile_id, batch[s].owned.item_id) == key)
