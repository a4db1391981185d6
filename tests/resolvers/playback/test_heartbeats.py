"""The heartbeat coalescer on real PostgreSQL: latest position wins, one statement per table per
flush however many sessions, ownership still enforced, nothing lost on a clean close."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from infra.bus import InProcessBus
from infra.errors import BadUserInput, NotFound
from resolvers.playback.heartbeats import HeartbeatCoalescer
from resolvers.playback.sessions import Viewer
from tests.subgraphs.playback.conftest import (
    TWO_HOURS_MS,
    add_file,
    add_item,
    add_library,
    make_viewer,
)
from tests.support.catalog_rows import StatementCountingPool

MINUTE = 60_000


def _sql(statements: list[str]) -> list[str]:
    """The statements that touch tables (a flush's BEGIN / COMMIT left out)."""
    return [s for s in statements if s not in ("BEGIN;", "COMMIT;")]


async def _viewer(pool: asyncpg.Pool, name: str = "alice") -> Viewer:
    made = await make_viewer(pool, name)
    return Viewer(made.user_id, made.profile_id)


async def _sessions(pool: asyncpg.Pool, viewer: Viewer, count: int) -> list[uuid.UUID]:
    """``count`` sessions, each on its own item (set-based: a few statements in all)."""
    library_id = await add_library(pool)
    item_id = await add_item(pool, library_id, "Film")
    file_id = await add_file(pool, item_id)
    items = await pool.fetch(
        "INSERT INTO media_items (library_id, kind, title, sort_title) "
        "SELECT $1, 'movie', 'Film ' || n, 'Film ' || n FROM generate_series(1, $2) AS n "
        "RETURNING id",
        library_id,
        count - 1,
    )
    item_ids = [item_id, *(row["id"] for row in items)]
    rows = await pool.fetch(
        "INSERT INTO playback_sessions (user_id, profile_id, item_id, file_id, method) "
        "SELECT $1, $2, i, $3, 'DIRECT_PLAY' FROM unnest($4::uuid[]) AS i RETURNING id",
        viewer.user_id,
        viewer.profile_id,
        file_id,
        item_ids,
    )
    return [row["id"] for row in rows]


async def test_many_heartbeats_of_one_session_write_the_last_position_once(
    pool: asyncpg.Pool,
) -> None:
    viewer = await _viewer(pool)
    (session_id,) = await _sessions(pool, viewer, 1)
    counting = StatementCountingPool(pool)
    heartbeats = HeartbeatCoalescer(counting, InProcessBus())  # type: ignore[arg-type]

    for second in range(1, 201):
        await heartbeats.record(session_id, viewer, 10 * MINUTE + second * 1000, False)
    reads = len(counting.statements)
    assert await pool.fetchval("SELECT count(*) FROM user_data") == 0  # nothing written yet
    assert await heartbeats.flush() == 1

    assert reads == 1  # the ownership check, once
    writes = _sql(counting.statements[reads:])
    assert len(writes) == 2
    assert sum(s.startswith("UPDATE playback_sessions") for s in writes) == 1
    assert sum(s.startswith("INSERT INTO user_data") for s in writes) == 1
    session = await pool.fetchrow("SELECT * FROM playback_sessions WHERE id = $1", session_id)
    assert session["position_ms"] == 10 * MINUTE + 200_000
    data = await pool.fetchrow("SELECT * FROM user_data WHERE profile_id = $1", viewer.profile_id)
    assert data["position_ms"] == 10 * MINUTE + 200_000
    assert (data["is_played"], data["play_count"]) == (False, 0)
    assert await heartbeats.flush() == 0  # nothing pending: no statement
    assert _sql(counting.statements[reads:]) == writes


async def test_a_thousand_sessions_flush_in_one_statement_per_table(pool: asyncpg.Pool) -> None:
    viewer = await _viewer(pool)
    sessions = await _sessions(pool, viewer, 1000)
    counting = StatementCountingPool(pool)
    heartbeats = HeartbeatCoalescer(counting, InProcessBus())  # type: ignore[arg-type]
    for index, session_id in enumerate(sessions):
        await heartbeats.record(session_id, viewer, 20 * MINUTE + index, False)
    for index, session_id in enumerate(sessions):  # a second round: served from memory
        await heartbeats.record(session_id, viewer, 30 * MINUTE + index, False)
    before = len(counting.statements)
    assert before == 1000  # one ownership check per session, no more

    assert await heartbeats.flush() == 1000

    flush = _sql(counting.statements[before:])
    assert len(flush) == 2
    assert flush[0].startswith("UPDATE playback_sessions")
    assert flush[1].startswith("INSERT INTO user_data")
    positions = await pool.fetch("SELECT id, position_ms FROM playback_sessions")
    assert {row["id"]: row["position_ms"] for row in positions} == {
        session_id: 30 * MINUTE + index for index, session_id in enumerate(sessions)
    }
    assert (
        await pool.fetchval("SELECT count(*) FROM user_data WHERE position_ms >= $1", 30 * MINUTE)
        == 1000
    )


async def test_someone_elses_session_does_not_exist_for_the_caller(pool: asyncpg.Pool) -> None:
    alice = await _viewer(pool, "alice")
    mallory = await _viewer(pool, "mallory")
    (session_id,) = await _sessions(pool, alice, 1)
    heartbeats = HeartbeatCoalescer(pool, InProcessBus())
    with pytest.raises(NotFound):
        await heartbeats.record(session_id, mallory, MINUTE, False)
    await heartbeats.record(session_id, alice, 10 * MINUTE, False)  # now cached
    with pytest.raises(NotFound):
        await heartbeats.record(session_id, mallory, MINUTE, False)
    with pytest.raises(NotFound):
        await heartbeats.record(uuid.uuid4(), alice, MINUTE, False)
    with pytest.raises(BadUserInput):
        await heartbeats.record(session_id, alice, -1, False)
    with pytest.raises(BadUserInput):
        await heartbeats.record(session_id, alice, TWO_HOURS_MS + 10 * MINUTE, False)
    await heartbeats.flush()
    position = await pool.fetchval(
        "SELECT position_ms FROM playback_sessions WHERE id = $1", session_id
    )
    assert position == 10 * MINUTE


async def test_scrobble_is_published_and_written_at_once(pool: asyncpg.Pool) -> None:
    viewer = await _viewer(pool)
    (session_id,) = await _sessions(pool, viewer, 1)
    bus = InProcessBus()
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        async for event in bus.subscribe("playback"):
            events.append(event)

    collector = asyncio.create_task(collect())
    await asyncio.sleep(0)
    heartbeats = HeartbeatCoalescer(pool, bus, interval=3600)
    await heartbeats.record(session_id, viewer, 10 * MINUTE, True)
    progress = await heartbeats.record(session_id, viewer, TWO_HOURS_MS - MINUTE, False)
    await heartbeats.record(session_id, viewer, TWO_HOURS_MS - 30_000, False)  # no second play
    await asyncio.sleep(0.05)
    collector.cancel()

    assert progress.is_played and progress.resume_position_ms == 0
    assert [e["type"] for e in events] == [
        "playback.paused",
        "playback.resumed",
        "playback.scrobble",
    ]
    data = await pool.fetchrow("SELECT * FROM user_data WHERE profile_id = $1", viewer.profile_id)
    assert (data["is_played"], data["play_count"], data["position_ms"]) == (True, 1, 0)
    await heartbeats.close()
    data = await pool.fetchrow("SELECT * FROM user_data WHERE profile_id = $1", viewer.profile_id)
    assert data["play_count"] == 1
    assert await pool.fetchval(
        "SELECT is_scrobbled FROM playback_sessions WHERE id = $1", session_id
    )


async def test_close_flushes_what_is_pending(pool: asyncpg.Pool) -> None:
    viewer = await _viewer(pool)
    (session_id,) = await _sessions(pool, viewer, 1)
    heartbeats = HeartbeatCoalescer(pool, InProcessBus(), interval=3600)
    heartbeats.start()
    await heartbeats.record(session_id, viewer, 42 * MINUTE, True)
    assert heartbeats.pending == 1

    await heartbeats.close()

    session = await pool.fetchrow("SELECT * FROM playback_sessions WHERE id = $1", session_id)
    assert (session["position_ms"], session["is_paused"]) == (42 * MINUTE, True)
    assert await pool.fetchval("SELECT position_ms FROM user_data") == 42 * MINUTE


async def test_the_background_task_flushes_every_interval(pool: asyncpg.Pool) -> None:
    viewer = await _viewer(pool)
    (session_id,) = await _sessions(pool, viewer, 1)
    heartbeats = HeartbeatCoalescer(pool, InProcessBus(), interval=0.05)
    heartbeats.start()
    try:
        await heartbeats.record(session_id, viewer, 15 * MINUTE, False)
        for _ in range(100):
            if heartbeats.pending == 0 and heartbeats.flushes:
                break
            await asyncio.sleep(0.02)
        assert await pool.fetchval("SELECT position_ms FROM user_data") == 15 * MINUTE
    finally:
        await heartbeats.close()


async def test_a_stopped_session_takes_no_more_heartbeats(pool: asyncpg.Pool) -> None:
    viewer = await _viewer(pool)
    (session_id,) = await _sessions(pool, viewer, 1)
    heartbeats = HeartbeatCoalescer(pool, InProcessBus())
    await heartbeats.record(session_id, viewer, 12 * MINUTE, False)
    await heartbeats.stopped(session_id)
    assert (
        await pool.fetchval("SELECT position_ms FROM playback_sessions WHERE id = $1", session_id)
        == 12 * MINUTE
    )
    await pool.execute("UPDATE playback_sessions SET stopped_at = now() WHERE id = $1", session_id)
    with pytest.raises(BadUserInput):
        await heartbeats.record(session_id, viewer, 13 * MINUTE, False)
