"""Playback state with several processes on one database: reports of one session flushed by two
coalescers in either order (the newest by the client's time wins), and two lease reapers racing
over one lapsed session (ended once, announced once)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from infra.bus import Event, InProcessBus
from infra.database import create_pool
from infra.errors import BadUserInput
from resolvers.playback.heartbeats import HeartbeatCoalescer
from resolvers.playback.leases import LeaseReaper
from resolvers.playback.progress import report_progress
from resolvers.playback.sessions import Viewer
from tests.subgraphs.playback.conftest import add_file, add_item, add_library, make_viewer

MINUTE = 60_000


class RecordingBus(InProcessBus):
    """The in-process bus, keeping what was published (each "process" has its own bus)."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[str, Event]] = []

    async def publish(self, topic: str, event: Event) -> None:
        self.published.append((topic, event))
        await super().publish(topic, event)


async def _session(pool: asyncpg.Pool) -> tuple[Viewer, uuid.UUID]:
    made = await make_viewer(pool, "alice")
    viewer = Viewer(made.user_id, made.profile_id)
    item_id = await add_item(pool, await add_library(pool), "Film")
    file_id = await add_file(pool, item_id)
    session_id: uuid.UUID = await pool.fetchval(
        "INSERT INTO playback_sessions (user_id, profile_id, item_id, file_id, method) "
        "VALUES ($1, $2, $3, $4, 'DIRECT_PLAY') RETURNING id",
        viewer.user_id,
        viewer.profile_id,
        item_id,
        file_id,
    )
    return viewer, session_id


@pytest.mark.parametrize("newer_flushes_first", [True, False])
async def test_the_newest_report_wins_whichever_process_flushes_last(
    pool: asyncpg.Pool, database_url: str, newer_flushes_first: bool
) -> None:
    viewer, session_id = await _session(pool)
    other_pool = await create_pool(database_url, 1, 2)
    try:
        here = HeartbeatCoalescer(pool, InProcessBus())
        there = HeartbeatCoalescer(other_pool, InProcessBus())
        taken = datetime.now(UTC) - timedelta(seconds=30)
        # The player reported 20 minutes at taken+10s through one process, and its earlier
        # report, 10 minutes at taken, reached the other process late.
        later = taken + timedelta(seconds=10)
        await here.record(session_id, viewer, 20 * MINUTE, False, None, later)
        await there.record(session_id, viewer, 10 * MINUTE, False, None, taken)

        order = [here, there] if newer_flushes_first else [there, here]
        for coalescer in order:
            assert await coalescer.flush() == 1
        session = await pool.fetchrow(
            "SELECT position_ms, reported_at FROM playback_sessions WHERE id = $1", session_id
        )
        resume = await pool.fetchval("SELECT position_ms FROM user_data")

        assert session["position_ms"] == 20 * MINUTE
        assert session["reported_at"] == later
        assert resume == 20 * MINUTE
    finally:
        await other_pool.close()


async def test_an_older_report_arriving_later_in_one_process_keeps_the_newer(
    pool: asyncpg.Pool,
) -> None:
    viewer, session_id = await _session(pool)
    heartbeats = HeartbeatCoalescer(pool, InProcessBus())
    taken = datetime.now(UTC) - timedelta(seconds=30)

    await heartbeats.record(session_id, viewer, 20 * MINUTE, False, None, taken)
    await heartbeats.record(
        session_id, viewer, 5 * MINUTE, False, None, taken - timedelta(seconds=5)
    )
    await heartbeats.flush()

    position = await pool.fetchval(
        "SELECT position_ms FROM playback_sessions WHERE id = $1", session_id
    )
    assert position == 20 * MINUTE


async def test_the_uncoalesced_path_ignores_an_older_report(pool: asyncpg.Pool) -> None:
    viewer, session_id = await _session(pool)
    taken = datetime.now(UTC) - timedelta(seconds=30)
    bus = InProcessBus()

    await report_progress(pool, bus, viewer, session_id, 20 * MINUTE, reported_at=taken)
    await report_progress(
        pool, bus, viewer, session_id, 5 * MINUTE, reported_at=taken - timedelta(seconds=1)
    )

    assert await pool.fetchval("SELECT position_ms FROM playback_sessions") == 20 * MINUTE
    assert await pool.fetchval("SELECT position_ms FROM user_data") == 20 * MINUTE


async def test_a_report_time_without_an_offset_is_refused(pool: asyncpg.Pool) -> None:
    viewer, session_id = await _session(pool)
    heartbeats = HeartbeatCoalescer(pool, InProcessBus())

    with pytest.raises(BadUserInput, match="reportedAt needs a time zone offset"):
        await heartbeats.record(session_id, viewer, MINUTE, False, None, datetime(2026, 1, 1))


async def test_two_reapers_racing_end_a_lapsed_session_once_and_announce_it_once(
    pool: asyncpg.Pool, database_url: str
) -> None:
    _, session_id = await _session(pool)
    await pool.execute("UPDATE playback_sessions SET last_heartbeat_at = now() - interval '1 hour'")
    other_pool = await create_pool(database_url, 1, 2)
    try:
        buses = [RecordingBus(), RecordingBus()]
        reapers = [
            LeaseReaper(pool, buses[0], "playback", 60),
            LeaseReaper(other_pool, buses[1], "playback", 60),
        ]

        ended = await asyncio.gather(*(reaper.reap() for reaper in reapers))

        stopped = [
            event
            for bus in buses
            for topic, event in bus.published
            if topic == "playback" and event["type"] == "playback.stopped"
        ]
        assert sorted(ended) == [0, 1]
        assert [event["sessionId"] for event in stopped] == [str(session_id)]
        assert await pool.fetchval("SELECT stop_reason FROM playback_sessions") == "expired"
    finally:
        await other_pool.close()
