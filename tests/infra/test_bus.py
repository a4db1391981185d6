from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis

from infra.bus import (
    EventBus,
    InProcessBus,
    PostgresBus,
    RedisBus,
    SubscriberTooSlow,
    open_bus,
    subscription,
)
from infra.database import Database
from infra.settings import load_settings


async def take(stream: AsyncIterator[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    events = []
    async for event in stream:
        events.append(event)
        if len(events) == count:
            break
    return events


async def until_subscribed(bus: EventBus, topic: str) -> None:
    """Publish probes until the subscriber sees one: Redis subscriptions take a round trip."""
    for _ in range(200):
        await bus.publish(topic, {"probe": True})
        await asyncio.sleep(0.01)


async def test_in_process_subscribers_get_events_of_their_topic_only() -> None:
    bus = InProcessBus()
    stream = bus.subscribe("a")
    waiter = asyncio.ensure_future(take(stream, 2))
    await asyncio.sleep(0)
    await bus.publish("b", {"n": 0})
    await bus.publish("a", {"n": 1})
    await bus.publish("a", {"n": 2})
    assert await waiter == [{"n": 1}, {"n": 2}]
    assert bus.subscriber_count("a") == 1
    await stream.aclose()  # type: ignore[attr-defined]
    assert bus.subscriber_count("a") == 0


async def test_a_slow_in_process_subscriber_is_dropped_not_buffered_forever() -> None:
    bus = InProcessBus(buffer_size=3)
    stream = bus.subscribe("t")
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    await bus.publish("t", {"n": 0})
    assert await first == {"n": 0}
    for n in range(1, 10):  # the consumer is busy: three fit, the fourth overflows
        await bus.publish("t", {"n": n})
    received = []
    with pytest.raises(SubscriberTooSlow):
        async for event in stream:
            received.append(event)
    assert len(received) < 3
    assert bus.subscriber_count("t") == 0


async def test_closing_the_bus_ends_streams_cleanly() -> None:
    bus = InProcessBus()
    stream = bus.subscribe("t")
    waiter = asyncio.ensure_future(take(stream, 5))
    await asyncio.sleep(0)
    await bus.publish("t", {"n": 1})
    await asyncio.sleep(0)
    await bus.close()
    assert await waiter == [{"n": 1}]


async def test_redis_bus_carries_events_between_two_processes_worth_of_clients(
    redis_url: str,
) -> None:
    publisher, subscriber = RedisBus(redis_url), RedisBus(redis_url)
    try:
        stream = subscriber.subscribe("library_scan:x")
        received: list[dict[str, Any]] = []

        async def collect() -> None:
            async for event in stream:
                if event.get("probe"):
                    continue
                received.append(event)
                if len(received) == 3:
                    return

        collector = asyncio.create_task(collect())
        prober = asyncio.create_task(until_subscribed(publisher, "library_scan:x"))
        await asyncio.sleep(0.3)
        prober.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await prober  # a publish cut off mid-command must be unwound before the close
        for n in range(3):
            await publisher.publish("library_scan:x", {"n": n, "status": "running"})
        await asyncio.wait_for(collector, 5)
        assert received == [
            {"n": 0, "status": "running"},
            {"n": 1, "status": "running"},
            {"n": 2, "status": "running"},
        ]
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        await publisher.close()
        await subscriber.close()


async def test_open_bus_picks_redis_when_a_cache_url_is_set_else_postgres(
    redis_url: str, pool: asyncpg.Pool, database_url: str
) -> None:
    database = Database(pool=pool, url=database_url)
    default = open_bus(load_settings({"REVENGE_DATA_DIR": "/tmp"}), database)
    assert isinstance(default, PostgresBus)
    await default.close()
    settings = load_settings({"REVENGE_DATA_DIR": "/tmp", "REVENGE_CACHE_URL": redis_url})
    bus = open_bus(settings, database)
    try:
        assert isinstance(bus, RedisBus)
        assert await bus.ping() is True
    finally:
        await bus.close()


async def _client_count(redis_url: str, name: str) -> int:
    admin = redis.from_url(redis_url)
    try:
        clients = await admin.client_list()
        return sum(1 for c in clients if c.get("cmd", "").startswith(name))
    finally:
        await admin.aclose()


async def test_a_redis_bus_shares_one_connection_and_is_live_once_subscribed(
    redis_url: str,
) -> None:
    publisher, subscriber = RedisBus(redis_url), RedisBus(redis_url)
    try:
        # Ten subscribers on two topics: once `subscription` yields, the first publish arrives.
        async with contextlib.AsyncExitStack() as stack:
            streams = [
                await stack.enter_async_context(subscription(subscriber, f"t{n % 2}"))
                for n in range(10)
            ]
            await publisher.publish("t0", {"n": 0})
            await publisher.publish("t1", {"n": 1})
            received = [await asyncio.wait_for(s.next(), 5) for s in streams]
            pubsub_connections = await _client_count(redis_url, "subscribe")
            one_topic = subscriber.subscriber_count("t0")

        await publisher.publish("t0", {"n": 2})  # nobody listens now: dropped, no error
        assert received == [{"n": n % 2} for n in range(10)]
        assert one_topic == 5
        assert pubsub_connections == 1  # one Redis connection carries all ten subscriptions
        assert subscriber.subscriber_count("t0") == 0
    finally:
        await publisher.close()
        await subscriber.close()


async def test_losing_redis_ends_every_stream_with_subscriber_too_slow(redis_url: str) -> None:
    bus = RedisBus(redis_url)
    admin = redis.from_url(redis_url)
    try:
        async with subscription(bus, "lost") as first, subscription(bus, "lost") as second:
            await admin.client_kill_filter(_type="pubsub")
            for stream in (first, second):
                with pytest.raises(SubscriberTooSlow, match="lost Redis"):
                    await asyncio.wait_for(stream.next(), 5)
        async with subscription(bus, "again") as again:  # a fresh connection serves new ones
            await bus.publish("again", {"ok": True})
            assert await asyncio.wait_for(again.next(), 5) == {"ok": True}
    finally:
        await admin.aclose()
        await bus.close()


async def test_first_subscriptions_made_at_once_share_the_connection_and_all_hear(
    redis_url: str,
) -> None:
    publisher, subscriber = RedisBus(redis_url), RedisBus(redis_url)
    try:
        # At start-up several services subscribe in the same instant, each to its own topic.
        streams = [subscriber.subscribe(f"startup:{n}") for n in range(5)]
        firsts = [asyncio.ensure_future(anext(stream)) for stream in streams]
        await asyncio.sleep(0)
        await asyncio.gather(*(subscriber.wait_subscribed(f"startup:{n}") for n in range(5)))
        for n in range(5):
            await publisher.publish(f"startup:{n}", {"n": n})
        received = await asyncio.wait_for(asyncio.gather(*firsts), 5)
        connections = await _client_count(redis_url, "subscribe")

        assert received == [{"n": n} for n in range(5)]
        assert connections == 1
    finally:
        for stream in streams:
            await stream.aclose()  # type: ignore[attr-defined]
        await publisher.close()
        await subscriber.close()
