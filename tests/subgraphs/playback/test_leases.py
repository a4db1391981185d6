"""Stream limits, device replacement and lease expiry, through the playback subgraph."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from infra.authz.principal import Principal
from infra.bus import InProcessBus
from loaders.context import Context
from resolvers.playback.heartbeats import HeartbeatCoalescer
from resolvers.playback.leases import LeaseReaper, StreamLimits
from resolvers.playback.sessions import Viewer as SessionViewer
from tests.subgraphs.playback.conftest import (
    Execute,
    add_file,
    add_item,
    add_library,
    error_codes,
    make_viewer,
)

START = """
mutation($item: ID!, $device: String) {
  startPlayback(itemId: $item, deviceId: $device) {
    __typename
    ... on PlaybackSession { id heartbeatIntervalMs }
    ... on PlaybackError { code message }
  }
}"""

PROGRESS = """
mutation($session: ID!, $at: Int!, $buffered: Int) {
  reportProgress(sessionId: $session, positionMs: $at, bufferedMs: $buffered) { sessionId }
}"""

STOP = "mutation($session: ID!) { stopPlayback(sessionId: $session) { sessionId } }"

ACTIVE = """
query($all: Boolean!) {
  activePlaybackSessions(allUsers: $all) {
    id userId deviceId deviceProfileName bufferedMs isPaused method item { id }
  }
}"""


def limited(context: Callable[..., Context], **limits: Any) -> Callable[..., Context]:
    """Contexts whose stream limits are ``StreamLimits(**limits)``."""

    def build(**kwargs: Any) -> Context:
        built = context(**kwargs)
        built.services["stream_limits"] = StreamLimits(**limits)
        return built

    return build


async def _movies(pool: asyncpg.Pool, count: int) -> list[uuid.UUID]:
    library_id = await add_library(pool)
    items = []
    for number in range(count):
        item_id = await add_item(pool, library_id, f"Film {number}")
        await add_file(pool, item_id)
        items.append(item_id)
    return items


async def _start(
    execute: Execute, build: Callable[..., Context], item_id: uuid.UUID, **kwargs: Any
) -> dict[str, Any]:
    device = kwargs.pop("device", None)
    result = await execute(START, context_value=build(**kwargs), item=str(item_id), device=device)
    assert result.errors is None, result.errors
    started: dict[str, Any] = result.data["startPlayback"]
    return started


async def test_the_user_limit_refuses_one_stream_too_many(
    pool: asyncpg.Pool, execute: Execute, context: Any
) -> None:
    build = limited(context, per_user=2, per_profile=0)
    items = await _movies(pool, 3)
    first = await _start(execute, build, items[0])
    second = await _start(execute, build, items[1])

    refused = await _start(execute, build, items[2])

    assert (first["__typename"], second["__typename"]) == ("PlaybackSession", "PlaybackSession")
    assert refused == {
        "__typename": "PlaybackError",
        "code": "STREAM_LIMIT_REACHED",
        "message": "this account already plays 2 of 2 streams",
    }
    assert await pool.fetchval("SELECT count(*) FROM playback_sessions") == 2
    stopped = await execute(STOP, context_value=build(), session=first["id"])
    assert stopped.errors is None
    assert (await _start(execute, build, items[2]))["__typename"] == "PlaybackSession"


async def test_the_profile_limit_counts_one_profile_only(
    pool: asyncpg.Pool, execute: Execute, context: Any, viewer: Any
) -> None:
    build = limited(context, per_user=0, per_profile=1)
    items = await _movies(pool, 2)
    other_profile: uuid.UUID = await pool.fetchval(
        "INSERT INTO profiles (user_id, name) VALUES ($1, 'Kid') RETURNING id", viewer.user_id
    )
    other = Principal(
        user_id=str(viewer.user_id),
        profile_id=str(other_profile),
        roles=frozenset({"user"}),
        scopes=frozenset({"catalog:*", "playback:*"}),
        auth_method="jwt",
    )
    assert (await _start(execute, build, items[0]))["__typename"] == "PlaybackSession"

    refused = await _start(execute, build, items[1])
    elsewhere = await _start(execute, build, items[1], principal=other)

    assert refused["message"] == "this profile already plays 1 of 1 streams"
    assert elsewhere["__typename"] == "PlaybackSession"


async def test_a_session_whose_lease_lapsed_no_longer_counts(
    pool: asyncpg.Pool, execute: Execute, context: Any
) -> None:
    build = limited(context, per_user=1, per_profile=0, lease_seconds=60)
    items = await _movies(pool, 2)
    first = await _start(execute, build, items[0])
    await pool.execute(
        "UPDATE playback_sessions SET last_heartbeat_at = now() - interval '61 seconds'"
    )

    second = await _start(execute, build, items[1])

    assert second["__typename"] == "PlaybackSession"
    assert first["heartbeatIntervalMs"] == 15_000


async def test_a_device_starting_again_replaces_its_session(
    pool: asyncpg.Pool, execute: Execute, context: Any, bus: InProcessBus
) -> None:
    build = limited(context, per_user=1, per_profile=1)
    items = await _movies(pool, 2)
    first = await _start(execute, build, items[0], device="living-room-tv")
    events: list[dict[str, Any]] = []
    listener = asyncio.create_task(_collect(bus, events))
    await asyncio.sleep(0)

    second = await _start(execute, build, items[1], device="living-room-tv")
    await asyncio.sleep(0.05)
    listener.cancel()

    assert second["__typename"] == "PlaybackSession"
    row = await pool.fetchrow(
        "SELECT stopped_at, stop_reason FROM playback_sessions WHERE id = $1",
        uuid.UUID(first["id"]),
    )
    assert row["stopped_at"] is not None and row["stop_reason"] == "replaced"
    assert [(e["type"], e.get("reason"), e["sessionId"]) for e in events] == [
        ("playback.stopped", "replaced", first["id"]),
        ("playback.started", None, second["id"]),
    ]
    late = await execute(PROGRESS, context_value=build(), session=first["id"], at=1000)
    assert error_codes(late) == ["BAD_USER_INPUT"]


async def test_a_refused_start_leaves_the_device_session_playing(
    pool: asyncpg.Pool, execute: Execute, context: Any
) -> None:
    build = limited(context, per_user=1, per_profile=0)
    items = await _movies(pool, 2)
    on_phone = await _start(execute, build, items[0], device="phone")

    refused = await _start(execute, build, items[1], device="tablet")

    assert refused["code"] == "STREAM_LIMIT_REACHED"
    assert await pool.fetchval(
        "SELECT stopped_at IS NULL FROM playback_sessions WHERE id = $1", uuid.UUID(on_phone["id"])
    )


async def test_concurrent_starts_never_exceed_the_limit(
    pool: asyncpg.Pool, execute: Execute, context: Any
) -> None:
    build = limited(context, per_user=2, per_profile=0)
    items = await _movies(pool, 6)

    results = await asyncio.gather(*(_start(execute, build, item) for item in items))

    kinds = sorted(result["__typename"] for result in results)
    assert kinds == ["PlaybackError"] * 4 + ["PlaybackSession"] * 2
    assert await pool.fetchval("SELECT count(*) FROM playback_sessions") == 2


async def test_the_reaper_ends_lapsed_sessions_once(
    pool: asyncpg.Pool, execute: Execute, context: Any, bus: InProcessBus
) -> None:
    build = limited(context, lease_seconds=60)
    items = await _movies(pool, 2)
    lapsed = await _start(execute, build, items[0])
    live = await _start(execute, build, items[1])
    await pool.execute(
        "UPDATE playback_sessions SET last_heartbeat_at = now() - interval '2 minutes', "
        "position_ms = 4242 WHERE id = $1",
        uuid.UUID(lapsed["id"]),
    )
    events: list[dict[str, Any]] = []
    listener = asyncio.create_task(_collect(bus, events))
    await asyncio.sleep(0)
    reaper = LeaseReaper(pool, bus, "playback", 60)

    assert await reaper.reap() == 1
    assert await reaper.reap() == 0
    await asyncio.sleep(0.05)
    listener.cancel()

    assert [(e["type"], e["reason"], e["sessionId"], e["positionMs"]) for e in events] == [
        ("playback.stopped", "expired", lapsed["id"], 4242)
    ]
    rows = await pool.fetch("SELECT id, stop_reason FROM playback_sessions ORDER BY created_at")
    assert {str(r["id"]): r["stop_reason"] for r in rows} == {
        lapsed["id"]: "expired",
        live["id"]: None,
    }


async def test_heartbeats_to_a_reaped_session_are_refused_after_the_next_flush(
    pool: asyncpg.Pool, execute: Execute, context: Any, bus: InProcessBus, viewer: Any
) -> None:
    build = limited(context)
    [item] = await _movies(pool, 1)
    started = await _start(execute, build, item)
    session_id = uuid.UUID(started["id"])
    heartbeats = HeartbeatCoalescer(pool, bus, interval=3600)
    who = SessionViewer(viewer.user_id, viewer.profile_id)
    await heartbeats.record(session_id, who, 600_000, buffered_ms=30_000)
    await heartbeats.flush()
    assert (
        await pool.fetchval("SELECT buffered_ms FROM playback_sessions WHERE id = $1", session_id)
        == 30_000
    )
    await pool.execute("UPDATE playback_sessions SET stopped_at = now(), stop_reason = 'expired'")

    await heartbeats.record(session_id, who, 610_000)  # still cached as live
    await heartbeats.flush()

    row = await pool.fetchrow(
        "SELECT position_ms, buffered_ms FROM playback_sessions WHERE id = $1", session_id
    )
    assert (row["position_ms"], row["buffered_ms"]) == (600_000, 30_000)
    try:
        await heartbeats.record(session_id, who, 620_000)
    except Exception as error:
        assert getattr(error, "code", None) == "BAD_USER_INPUT"
    else:
        raise AssertionError("a heartbeat to an ended session was accepted")


async def test_buffered_ms_is_stored_and_checked(
    pool: asyncpg.Pool, execute: Execute, context: Any
) -> None:
    [item] = await _movies(pool, 1)
    started = await _start(execute, context, item)

    stored = await execute(PROGRESS, session=started["id"], at=700_000, buffered=12_500)
    negative = await execute(PROGRESS, session=started["id"], at=700_000, buffered=-1)
    absurd = await execute(PROGRESS, session=started["id"], at=700_000, buffered=10**9)

    assert stored.errors is None
    assert await pool.fetchval("SELECT buffered_ms FROM playback_sessions") == 12_500
    assert error_codes(negative) == ["BAD_USER_INPUT"]
    assert error_codes(absurd) == ["BAD_USER_INPUT"]


async def test_active_sessions_are_the_callers_unless_an_admin_asks_for_all(
    pool: asyncpg.Pool, execute: Execute, context: Any, viewer: Any
) -> None:
    items = await _movies(pool, 2)
    mine = await _start(execute, context, items[0], device="tv")
    bob = await make_viewer(pool, "bob")
    await _start(execute, context, items[1], principal=bob.principal)
    await execute(PROGRESS, session=mine["id"], at=600_000, buffered=9_000)
    admin = Principal(
        user_id=str(viewer.user_id),
        profile_id=str(viewer.profile_id),
        roles=frozenset({"admin"}),
        scopes=frozenset({"*"}),
        auth_method="jwt",
    )

    own = await execute(ACTIVE, all=False)
    refused = await execute(ACTIVE, all=True)
    everyone = await execute(ACTIVE, context_value=context(principal=admin), all=True)

    assert own.data["activePlaybackSessions"] == [
        {
            "id": mine["id"],
            "userId": str(viewer.user_id),
            "deviceId": "tv",
            "deviceProfileName": "chromium",
            "bufferedMs": 9_000,
            "isPaused": False,
            "method": "DIRECT_PLAY",
            "item": {"id": str(items[0])},
        }
    ]
    assert error_codes(refused) == ["FORBIDDEN"]
    assert sorted(s["userId"] for s in everyone.data["activePlaybackSessions"]) == sorted(
        [str(viewer.user_id), str(bob.user_id)]
    )


async def _collect(bus: InProcessBus, into: list[dict[str, Any]]) -> None:
    async for event in bus.subscribe("playback"):
        into.append(event)
