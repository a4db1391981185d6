"""The event bus: publish a JSON-able event on a topic, subscribe to a topic.

In-process by default. A Redis implementation behind the same interface arrives with the
real-time work, so a subscriber on one gateway replica sees what another published. Slow
subscribers get a bounded buffer and are dropped rather than growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError

from infra.settings import Settings

__all__ = [
    "EventBus",
    "InProcessBus",
    "RedisBus",
    "SubscriberTooSlow",
    "Subscription",
    "open_bus",
    "subscription",
]

Event = dict[str, Any]


class SubscriberTooSlow(Exception):
    """The subscriber's buffer overflowed; its stream ends with this error."""


class EventBus(Protocol):
    async def publish(self, topic: str, event: Event) -> None: ...

    def subscribe(self, topic: str) -> AsyncIterator[Event]: ...

    async def close(self) -> None: ...


class _Subscriber:
    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=size)
        self.overflowed = False
        self.closed = False


class InProcessBus:
    def __init__(self, buffer_size: int = 256) -> None:
        self._buffer_size = buffer_size
        self._subscribers: dict[str, set[_Subscriber]] = {}

    async def publish(self, topic: str, event: Event) -> None:
        for subscriber in list(self._subscribers.get(topic, ())):
            if subscriber.overflowed:
                continue
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscriber.overflowed = True
                with contextlib.suppress(asyncio.QueueEmpty):
                    subscriber.queue.get_nowait()
                subscriber.queue.put_nowait(None)

    async def subscribe(self, topic: str) -> AsyncIterator[Event]:
        subscriber = _Subscriber(self._buffer_size)
        self._subscribers.setdefault(topic, set()).add(subscriber)
        try:
            while True:
                event = await subscriber.queue.get()
                if event is None:
                    if subscriber.closed:
                        return
                    raise SubscriberTooSlow(f"subscriber to {topic} fell behind")
                yield event
        finally:
            group = self._subscribers.get(topic)
            if group is not None:
                group.discard(subscriber)
                if not group:
                    del self._subscribers[topic]

    def subscriber_count(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))

    async def close(self) -> None:
        for group in self._subscribers.values():
            for subscriber in group:
                subscriber.closed = True
                with contextlib.suppress(asyncio.QueueEmpty):
                    while subscriber.queue.full():
                        subscriber.queue.get_nowait()
                subscriber.queue.put_nowait(None)
        self._subscribers.clear()


class RedisBus:
    """Redis pub/sub: what one process publishes, subscribers in every process receive.

    Events travel as JSON. A subscriber too slow for Redis's pub/sub output buffer is
    disconnected by Redis; its stream then ends with ``SubscriberTooSlow``.
    """

    PREFIX = "revenge:"

    def __init__(self, url: str) -> None:
        self._redis = redis.from_url(url)

    async def publish(self, topic: str, event: Event) -> None:
        await self._redis.publish(self.PREFIX + topic, json.dumps(event))

    async def subscribe(self, topic: str) -> AsyncIterator[Event]:
        pubsub = self._redis.pubsub()
        channel = self.PREFIX + topic
        await pubsub.subscribe(channel)
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                event: Event = json.loads(message["data"])
                yield event
        except RedisConnectionError as error:
            raise SubscriberTooSlow(f"subscriber to {topic} was disconnected: {error}") from None
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(channel)
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def close(self) -> None:
        await self._redis.aclose()


def open_bus(settings: Settings) -> EventBus:
    """Redis when ``REVENGE_CACHE_URL`` is set, so replicas and workers share events."""
    if settings.cache_url:
        return RedisBus(settings.cache_url)
    return InProcessBus()


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
        await asyncio.sleep(0)  # let the subscription register before the caller reads state
        yield opened
    finally:
        await opened.close()
