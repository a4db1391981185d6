"""The PostgreSQL event bus against real servers: the test database, a child process, and a
private PostgreSQL that is stopped and started again under a live subscription."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from infra.bus import BusUnavailable, PostgresBus, SubscriberTooSlow, subscription
from infra.bus_postgres import INLINE_LIMIT_BYTES
from infra.database import create_pool, start_embedded_postgres

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def channel() -> str:
    return f"revenge_bus_test_{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def buses(
    pool: asyncpg.Pool, database_url: str, channel: str
) -> AsyncIterator[tuple[PostgresBus, PostgresBus]]:
    """Two buses on one database, as two processes would hold them."""
    here, there = (PostgresBus(pool, database_url, channel=channel) for _ in range(2))
    try:
        yield here, there
    finally:
        await here.close()
        await there.close()


async def test_two_buses_on_one_database_see_each_others_events(
    buses: tuple[PostgresBus, PostgresBus],
) -> None:
    here, there = buses
    async with asyncio.timeout(20):
        async with (
            subscription(here, "library_scan:1") as on_here,
            subscription(there, "library_scan:1") as on_there,
            subscription(there, "other") as other,
        ):
            await there.publish("library_scan:1", {"from": "there"})
            await here.publish("library_scan:1", {"from": "here"})
            await here.publish("other", {"n": 1})
            seen_here = [await on_here.next(), await on_here.next()]
            seen_there = [await on_there.next(), await on_there.next()]
            seen_other = await other.next()
            one_topic = there.subscriber_count("library_scan:1")
    assert seen_here == [{"from": "there"}, {"from": "here"}]
    assert seen_there == [{"from": "there"}, {"from": "here"}]
    assert seen_other == {"n": 1}
    assert one_topic == 1
    assert there.subscriber_count("library_scan:1") == 0


async def test_an_event_published_by_another_os_process_reaches_a_subscriber_here(
    pool: asyncpg.Pool, database_url: str
) -> None:
    child = textwrap.dedent(
        """
        import asyncio, os, sys
        from infra.bus import PostgresBus
        from infra.database import create_pool

        async def main() -> None:
            url = sys.argv[1]
            pool = await create_pool(url, 1, 1)
            bus = PostgresBus(pool, url)
            for n in range(3):
                await bus.publish("party:child", {"n": n, "pid": os.getpid()})
            await bus.close()
            await pool.close()

        asyncio.run(main())
        """
    )
    bus = PostgresBus(pool, database_url)  # the default channel, as every process uses
    try:
        async with asyncio.timeout(60), subscription(bus, "party:child") as events:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", child, database_url, cwd=ROOT
            )
            assert await process.wait() == 0
            received = [await events.next() for _ in range(3)]
    finally:
        await bus.close()
    assert [event["n"] for event in received] == [0, 1, 2]
    assert {event["pid"] for event in received} == {process.pid}


async def _payload_rows(pool: asyncpg.Pool) -> int:
    count = await pool.fetchval("SELECT count(*) FROM bus_payloads")
    assert isinstance(count, int)
    return count


async def test_a_payload_too_large_for_notify_arrives_whole_by_reference_and_is_cleaned(
    pool: asyncpg.Pool, database_url: str, buses: tuple[PostgresBus, PostgresBus], channel: str
) -> None:
    here, there = buses
    small = {"text": "s" * (INLINE_LIMIT_BYTES - 100)}
    large = {"text": "é" * 20_000, "items": list(range(1_000))}  # escaped: over 120 KB
    async with asyncio.timeout(30):
        async with subscription(here, "big") as first, subscription(there, "big") as second:
            await there.publish("big", small)
            rows_after_small = await _payload_rows(pool)
            await there.publish("big", large)
            received = [await first.next(), await first.next()]
            received_there = [await second.next(), await second.next()]
        rows_after_large = await _payload_rows(pool)
        await pool.execute("UPDATE bus_payloads SET created_at = now() - interval '2 minutes'")
        cleaner = PostgresBus(pool, database_url, channel=channel, keepalive_seconds=0.05)
        try:
            async with subscription(cleaner, "anything"):
                for _ in range(400):  # the cleaner's keepalive ticks every 50 ms
                    if await _payload_rows(pool) == 0:
                        break
                    await asyncio.sleep(0.05)
        finally:
            await cleaner.close()
    assert received == [small, large]
    assert received_there == [small, large]
    assert rows_after_small == 0
    assert rows_after_large == 1  # read by both buses, deleted by neither on reading
    assert await _payload_rows(pool) == 0


async def test_events_from_one_publisher_arrive_in_order(
    buses: tuple[PostgresBus, PostgresBus],
) -> None:
    here, there = buses
    count = 1_000
    async with asyncio.timeout(60), subscription(here, "ordered") as events:

        async def read_all() -> list[int]:
            return [(await events.next())["n"] for _ in range(count)]

        reader = asyncio.create_task(read_all())
        for n in range(count):
            # every hundredth goes by reference: its row is read while later ones queue
            event = {"n": n, "pad": "x" * 9_000} if n % 100 == 50 else {"n": n}
            await there.publish("ordered", event)
        received = await reader
    assert received == list(range(count))


async def test_a_slow_subscriber_is_cut_off_and_the_others_keep_going(
    buses: tuple[PostgresBus, PostgresBus], pool: asyncpg.Pool, database_url: str, channel: str
) -> None:
    here, there = buses
    slow_bus = PostgresBus(pool, database_url, channel=channel, buffer_size=3)
    try:
        async with asyncio.timeout(30):
            async with subscription(slow_bus, "t") as slow, subscription(here, "t") as fast:
                for n in range(10):
                    await there.publish("t", {"n": n})
                received = [(await fast.next())["n"] for _ in range(10)]
                with pytest.raises(SubscriberTooSlow):
                    for _ in range(10):
                        await slow.next()
    finally:
        await slow_bus.close()
    assert received == list(range(10))


async def test_losing_postgresql_ends_streams_and_the_bus_recovers_after_a_restart(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "postgres"
    embedded = await start_embedded_postgres(directory)
    pool = await create_pool(embedded.url, 1, 2)
    bus = PostgresBus(pool, embedded.url)
    try:
        async with asyncio.timeout(90):
            async with subscription(bus, "a") as first, subscription(bus, "b") as second:
                await bus.publish("a", {"n": 1})
                before = await first.next()
                await asyncio.to_thread(embedded.stop)
                for stream in (first, second):
                    with pytest.raises(SubscriberTooSlow, match="lost PostgreSQL"):
                        await stream.next()
            with pytest.raises(BusUnavailable, match="cannot reach PostgreSQL"):
                await bus.publish("a", {"n": 2})

            embedded = await start_embedded_postgres(directory)
            async with subscription(bus, "a") as again:
                await bus.publish("a", {"n": 3})
                after = await again.next()
    finally:
        await bus.close()
        await pool.close()
        await asyncio.to_thread(embedded.stop)
    assert before == {"n": 1}
    assert after == {"n": 3}


async def test_a_killed_listener_connection_ends_streams_and_reconnects(
    buses: tuple[PostgresBus, PostgresBus], pool: asyncpg.Pool
) -> None:
    here, there = buses
    async with asyncio.timeout(30):
        async with subscription(here, "k") as stream:
            killed = await pool.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'revenge-bus' AND datname = current_database()"
            )
            with pytest.raises(SubscriberTooSlow, match="lost PostgreSQL"):
                await stream.next()
        async with subscription(here, "k") as again:
            await there.publish("k", {"ok": True})
            assert await again.next() == {"ok": True}
    assert killed == 1  # only `here` listens: `there` only published
