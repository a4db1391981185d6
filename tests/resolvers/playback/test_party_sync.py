"""Waiting for players, lapsed waits, command limits and per-event authorization of watch
parties, against real PostgreSQL and the in-process bus."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import asyncpg
import pytest

from infra.bus import InProcessBus
from infra.database import create_pool
from infra.errors import Forbidden, RateLimited
from loaders.visibility import EVERYTHING
from resolvers.playback.parties import PRESENCE_SECONDS, join_party, leave_party
from resolvers.playback.party_chat import post_message
from resolvers.playback.party_events import member_party, publish_party, watch_party_events
from resolvers.playback.party_sync import (
    COMMANDS_PER_WINDOW,
    PartyWaits,
    command,
    release_lapsed_waits,
    report_member,
)
from tests.resolvers.playback.test_parties import KIDS, T0, add_profile, start

TIMEOUT = timedelta(seconds=15)


async def test_a_lapsed_wait_starts_the_party_once(pool: asyncpg.Pool) -> None:
    joined, ann, bob, _ = await start(pool)
    await report_member(pool, bob, joined.id, 0, False, now=T0 + timedelta(seconds=1))
    waiting = await command(pool, ann, joined.id, "play", now=T0 + timedelta(seconds=2))

    early = await release_lapsed_waits(pool, T0 + timedelta(seconds=16))
    started = await release_lapsed_waits(pool, T0 + timedelta(seconds=17))
    again = await release_lapsed_waits(pool, T0 + timedelta(seconds=18))

    assert (waiting.state, waiting.play_when_ready) == ("waiting", True)
    assert waiting.wait_deadline == T0 + timedelta(seconds=2) + TIMEOUT
    assert early == [] and again == []
    (party,) = started
    assert (party.id, party.state, party.play_when_ready, party.wait_deadline) == (
        joined.id,
        "playing",
        False,
        None,
    )
    assert party.state_changed_at == T0 + timedelta(seconds=17, milliseconds=500)


async def test_a_member_who_went_away_does_not_hold_the_party(pool: asyncpg.Pool) -> None:
    joined, ann, bob, _ = await start(pool)
    await report_member(pool, bob, joined.id, 0, False, now=T0 + timedelta(seconds=1))
    later = T0 + timedelta(seconds=1 + PRESENCE_SECONDS + 1)
    await report_member(pool, ann, joined.id, 0, True, now=later - timedelta(seconds=1))

    played = await command(pool, ann, joined.id, "play", now=later)

    assert played.state == "playing"  # bob has not reported for over 30 s
    assert [m.is_online(later) for m in played.members] == [True, False]


async def test_the_member_everyone_waited_for_leaving_starts_the_party(
    pool: asyncpg.Pool,
) -> None:
    joined, ann, bob, _ = await start(pool)
    await report_member(pool, bob, joined.id, 0, False, now=T0 + timedelta(seconds=1))
    waiting = await command(pool, ann, joined.id, "play", now=T0 + timedelta(seconds=2))

    after = await leave_party(pool, bob, joined.id, now=T0 + timedelta(seconds=3))

    assert waiting.state == "waiting"
    assert (after.state, after.state_changed_at) == (
        "playing",
        T0 + timedelta(seconds=3, milliseconds=500),
    )


async def test_pause_ends_a_wait_and_seek_keeps_it(pool: asyncpg.Pool) -> None:
    joined, ann, bob, _ = await start(pool)
    await report_member(pool, bob, joined.id, 0, False, now=T0 + timedelta(seconds=1))
    waiting = await command(pool, ann, joined.id, "play", now=T0 + timedelta(seconds=2))

    sought = await command(
        pool, ann, joined.id, "seek", position_ms=60_000, now=T0 + timedelta(seconds=3)
    )
    paused = await command(pool, ann, joined.id, "pause", now=T0 + timedelta(seconds=4))

    assert (sought.state, sought.position_ms, sought.wait_deadline) == (
        "waiting",
        60_000,
        waiting.wait_deadline,
    )
    assert (paused.state, paused.play_when_ready, paused.wait_deadline) == ("paused", False, None)


async def test_commands_are_limited_per_member_and_window(pool: asyncpg.Pool) -> None:
    joined, ann, bob, _ = await start(pool, control="everyone")
    for n in range(COMMANDS_PER_WINDOW):
        await command(pool, ann, joined.id, "seek", position_ms=n, now=T0 + timedelta(seconds=1))

    with pytest.raises(RateLimited):
        await command(pool, ann, joined.id, "seek", position_ms=99, now=T0 + timedelta(seconds=2))
    others = await command(pool, bob, joined.id, "pause", now=T0 + timedelta(seconds=2))
    later = await command(
        pool, ann, joined.id, "seek", position_ms=5, now=T0 + timedelta(seconds=12)
    )

    assert others.position_ms == COMMANDS_PER_WINDOW - 1  # the refused seek changed nothing
    assert later.position_ms == 5


async def test_reports_faster_than_the_interval_are_refused_unless_readiness_changes(
    pool: asyncpg.Pool,
) -> None:
    joined, _, bob, _ = await start(pool)
    first = T0 + timedelta(seconds=1)
    await report_member(pool, bob, joined.id, 1_000, True, now=first)

    with pytest.raises(RateLimited):
        await report_member(
            pool, bob, joined.id, 1_100, True, now=first + timedelta(milliseconds=100)
        )
    changed = await report_member(
        pool, bob, joined.id, 1_100, False, now=first + timedelta(milliseconds=100)
    )

    assert (changed.member.position_ms, changed.member.is_ready) == (1_100, False)


async def test_party_waits_publishes_the_start(pool: asyncpg.Pool) -> None:
    bus = InProcessBus()
    joined, ann, bob, _ = await start(pool)
    await report_member(pool, bob, joined.id, 0, False, now=T0 + timedelta(seconds=1))
    await command(pool, ann, joined.id, "play", now=T0 + timedelta(seconds=2))
    waits = PartyWaits(pool, bus)
    events = bus.subscribe(f"party:{joined.id}")
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)

    released = await waits.release(T0 + timedelta(minutes=1))
    event = await asyncio.wait_for(first, 5)
    await events.aclose()

    assert released == 1
    assert (event["type"], event["party"]["state"]) == ("party.resume", "playing")


async def test_an_event_about_an_item_a_kid_may_no_longer_see_is_not_sent(
    pool: asyncpg.Pool,
) -> None:
    bus = InProcessBus()
    joined, ann, _, items = await start(pool, queue_length=1)
    kid = await add_profile(pool, ann, "kid")
    await pool.execute(
        "UPDATE media_items SET rating_rank = 5, effective_rating_rank = 5 WHERE id = ANY($1)",
        items,
    )
    await join_party(pool, kid, KIDS, joined.invite_code, now=T0)
    found = await member_party(pool, kid, joined.id)
    stream = watch_party_events(pool, bus, kid, KIDS, found)
    current = await anext(stream)
    received: list[str] = []

    async def read() -> None:
        async for event in stream:
            received.append(event["type"])

    reader = asyncio.ensure_future(read())
    await asyncio.sleep(0.05)
    # While the party runs, the next film is re-rated for adults; then the host moves on to it.
    paused = await command(pool, ann, joined.id, "pause", now=T0 + timedelta(seconds=1))
    await publish_party(bus, "pause", paused)
    await pool.execute(
        "UPDATE media_items SET rating_rank = 17, effective_rating_rank = 17 WHERE id = $1",
        items[1],
    )
    moved = await command(pool, ann, joined.id, "next", now=T0 + timedelta(seconds=2))
    await publish_party(bus, "next", moved)

    with pytest.raises(Forbidden):
        await asyncio.wait_for(reader, 5)
    with contextlib.suppress(StopAsyncIteration):
        await stream.aclose()

    assert current["type"] == "party.current"
    assert received == ["party.pause"]  # the "next" to the adult film never reached the kid


async def test_an_older_state_arriving_late_is_dropped_and_a_late_message_carries_the_newest(
    pool: asyncpg.Pool,
) -> None:
    bus = InProcessBus()
    joined, ann, bob, _ = await start(pool)
    found = await member_party(pool, bob, joined.id)
    stream = watch_party_events(pool, bus, bob, EVERYTHING, found)
    current = await anext(stream)
    received: list[tuple[str, str, int]] = []

    async def read() -> None:
        async for event in stream:
            party = event["party"]
            received.append((event["type"], party["state"], party["version"]))
            if len(received) == 2:
                return

    reader = asyncio.ensure_future(read())
    await asyncio.sleep(0.05)
    played = await command(pool, ann, joined.id, "play", now=T0 + timedelta(seconds=1))
    paused = await command(pool, ann, joined.id, "pause", now=T0 + timedelta(seconds=2))
    # Two replicas publish after their commits, in the wrong order: the pause first.
    await publish_party(bus, "pause", paused)
    await publish_party(bus, "play", played)
    message = await post_message(pool, ann, joined.id, "late hello")
    await publish_party(bus, "message", played, message)  # stale state with the message
    await asyncio.wait_for(reader, 5)
    await stream.aclose()

    assert played.version < paused.version
    assert current["party"]["version"] == found.version < played.version
    assert received == [
        ("party.pause", "paused", paused.version),
        ("party.message", "paused", paused.version),  # the message, with the newest state
    ]


async def test_two_processes_releasing_at_once_start_a_lapsed_party_once(
    pool: asyncpg.Pool, database_url: str
) -> None:
    joined, ann, bob, _ = await start(pool)
    await report_member(pool, bob, joined.id, 0, False, now=T0 + timedelta(seconds=1))
    await command(pool, ann, joined.id, "play", now=T0 + timedelta(seconds=2))
    other_pool = await create_pool(database_url, 1, 2)
    try:
        at = T0 + timedelta(seconds=17)
        here, there = await asyncio.gather(
            release_lapsed_waits(pool, at), release_lapsed_waits(other_pool, at)
        )
    finally:
        await other_pool.close()

    assert sorted([len(here), len(there)]) == [0, 1]
    assert [party.id for party in here + there] == [joined.id]
