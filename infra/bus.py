"""The event bus: publish a JSON-able event on a topic, subscribe to a topic.

In-process by default. A Redis implementation behind the same interface arrives with the
real-time work, so a subscriber on one gateway replica sees what another published. Slow
subscribers get a bounded buffer and are dropped rather than growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

__all__ = ["EventBus", "InProcessBus", "SubscriberTooSlow"]

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
                with contextlib.suppress(asyncio.QueueFull):
                    subscriber.queue.put_nowait(None)
        self._subscribers.clear()
