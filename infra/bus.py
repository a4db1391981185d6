"""The event bus: publish a JSON-able event on a topic, subscribe to a topic.

Three carriers behind one interface, so a subscriber in one process sees what another published:
PostgreSQL LISTEN/NOTIFY by default (``infra/bus_postgres.py``: every process already shares the
database), Redis pub/sub when ``REVENGE_CACHE_URL`` is set, and an in-process bus for tests and
tools that stay in one process. Slow subscribers get a bounded buffer and are dropped rather than
growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError

from infra.bus_postgres import PostgresBus
from infra.bus_topics import BusUnavailable, Event, EventBus, LocalTopics, SubscriberTooSlow
from infra.database import Database
from infra.redis_client import redis_client
from infra.settings import Settings

__all__ = [
    "BusUnavailable",
    "Event",
    "EventBus",
    "InProcessBus",
    "PostgresBus",
    "RedisBus",
    "SubscriberTooSlow",
    "Subscription",
    "open_bus",
    "subscription",
]


class InProcessBus:
    def __init__(self, buffer_size: int = 256) -> None:
        self._local = LocalTopics(buffer_size)

    async def publish(self, topic: str, event: Event) -> None:
        self._local.deliver(topic, event)

    async def subscribe(self, topic: str) -> AsyncIterator[Event]:
        subscriber = self._local.add(topic)
        try:
            async for event in self._local.events(topic, subscriber):
                yield event
        finally:
            self._local.remove(topic, subscriber)

    def subscriber_count(self, topic: str) -> int:
        return len(self._local.by_topic.get(topic, ()))

    async def wait_subscribed(self, topic: str) -> None:
        return None  # a started stream is registered at once

    async def close(self) -> None:
        self._local.end_all()


class RedisBus:
    """Redis pub/sub: what one process publishes, subscribers in every process receive.

    A process holds one pub/sub connection for all its subscribers: a topic is subscribed in
    Redis once, when its first local subscriber arrives, and each event is decoded once and
    handed to the local subscribers' bounded queues, exactly as the in-process bus does. So
    2,000 subscriptions cost one Redis connection, and an event for 25 members on this replica
    is one Redis message. ``subscribe`` returns events only after Redis confirmed the
    subscription, so nothing published after the caller reads current state is missed. When
    the connection drops (or Redis cuts it for a full output buffer), every local stream ends
    with ``SubscriberTooSlow``; the next subscription opens a fresh connection.
    """

    PREFIX = "revenge:"
    CONFIRM_TIMEOUT_SECONDS = 5.0

    def __init__(self, url: str, buffer_size: int = 256) -> None:
        self._redis = redis_client(url)
        self._local = LocalTopics(buffer_size)
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._confirmed: dict[str, asyncio.Event] = {}
        # redis-py's PubSub connects lazily and not safely for concurrent callers: two first
        # subscriptions at once would each open a connection, and the reader would hear only
        # one. Subscribe and unsubscribe commands go one at a time.
        self._commands = asyncio.Lock()

    async def publish(self, topic: str, event: Event) -> None:
        await self._redis.publish(self.PREFIX + topic, json.dumps(event))

    async def subscribe(self, topic: str) -> AsyncIterator[Event]:
        first = topic not in self._local.by_topic
        subscriber = self._local.add(topic)
        try:
            if first:
                confirmed = self._confirmed[topic] = asyncio.Event()
                async with self._commands:
                    await self._connection().subscribe(self.PREFIX + topic)
                    self._start_reader()
            else:
                confirmed = self._confirmed.setdefault(topic, asyncio.Event())
            await confirmed.wait()
            async for event in self._local.events(topic, subscriber):
                yield event
        except RedisConnectionError as error:
            raise SubscriberTooSlow(f"subscriber to {topic} was disconnected: {error}") from None
        finally:
            if self._local.remove(topic, subscriber):
                self._confirmed.pop(topic, asyncio.Event()).set()  # wake any waiter
                if self._pubsub is not None:
                    with contextlib.suppress(Exception):
                        async with self._commands:
                            await self._pubsub.unsubscribe(self.PREFIX + topic)

    def _connection(self) -> PubSub:
        if self._pubsub is None:
            self._pubsub = self._redis.pubsub()
        return self._pubsub

    def _start_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="redis-bus-reader")

    async def _read(self) -> None:
        pubsub = self._connection()
        try:
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None:
                    continue
                kind = message.get("type")
                channel = message["channel"]
                topic = (channel.decode() if isinstance(channel, bytes) else channel)[
                    len(self.PREFIX) :
                ]
                if kind == "message":
                    self._local.deliver(topic, json.loads(message["data"]))
                elif kind == "subscribe" and topic in self._confirmed:
                    self._confirmed[topic].set()
        except (RedisConnectionError, OSError) as error:
            self._pubsub = None
            for waiting in self._confirmed.values():
                waiting.set()  # their streams end just below
            self._confirmed.clear()
            self._local.end_all(f"the event bus lost Redis: {error}")
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    def subscriber_count(self, topic: str) -> int:
        return len(self._local.by_topic.get(topic, ()))

    async def wait_subscribed(self, topic: str) -> None:
        confirmed = self._confirmed.get(topic)
        if confirmed is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(confirmed.wait(), self.CONFIRM_TIMEOUT_SECONDS)

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        self._local.end_all()
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        await self._redis.aclose()


def open_bus(settings: Settings, database: Database) -> EventBus:
    """Redis when ``REVENGE_CACHE_URL`` is set, otherwise PostgreSQL LISTEN/NOTIFY on the
    process's own database: either way every process (gateways, workers, the CLI) shares events."""
    if settings.cache_url:
        return RedisBus(settings.cache_url)
    return PostgresBus(database.pool, database.url)


class Subscription:
    """A bus subscription that is registered before its owner reads current state, so no event
    published in between is lost: ``async with subscription(bus, topic) as events``, read the
    state, then ``async for event in events`` (or ``await events.next()``, which raises
    ``StopAsyncIteration`` when the stream ends)."""

    def __init__(self, stream: AsyncIterator[Event]) -> None:
        self._stream = stream
        self._first: asyncio.Future[Event] | None = asyncio.ensure_future(anext(stream))

    async def next(self) -> Event:
        first, self._first = self._first, None
        if first is not None:
            return await first
        return await anext(self._stream)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self.next()

    async def close(self) -> None:
        first, self._first = self._first, None
        if first is not None and not first.done():
            first.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await first
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            await aclose()


@contextlib.asynccontextmanager
async def subscription(bus: EventBus, topic: str) -> AsyncIterator[Subscription]:
    opened = Subscription(bus.subscribe(topic))
    try:
        await asyncio.sleep(0)  # the stream starts and registers ...
        await bus.wait_subscribed(topic)  # ... and is live before the caller reads state
        yield opened
    finally:
        await opened.close()
