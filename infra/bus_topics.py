"""What every event bus shares: the protocol, its errors, and this process's subscribers.

A lower module so that each bus (``infra/bus.py``'s in-process and Redis ones,
``infra/bus_postgres.py``) builds on the same bounded per-subscriber queues without the bus
modules importing each other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

__all__ = ["BusUnavailable", "Event", "EventBus", "LocalTopics", "SubscriberTooSlow"]

Event = dict[str, Any]


class SubscriberTooSlow(Exception):
    """The subscriber's buffer overflowed; its stream ends with this error."""


class BusUnavailable(ConnectionError):
    """Publishing failed: the bus cannot reach the service that carries its events."""


class EventBus(Protocol):
    async def publish(self, topic: str, event: Event) -> None: ...

    def subscribe(self, topic: str) -> AsyncIterator[Event]: ...

    async def wait_subscribed(self, topic: str) -> None:
        """Returns once a started ``subscribe(topic)`` stream receives every later event."""

    async def close(self) -> None: ...


class _Subscriber:
    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=size)
        self.overflowed = False
        self.closed = False
        self.failure: str | None = None


class LocalTopics:
    """This process's subscribers by topic, each with a bounded queue: an event goes to every
    subscriber of its topic; one whose queue is full is cut off rather than growing memory."""

    def __init__(self, buffer_size: int) -> None:
        self._buffer_size = buffer_size
        self.by_topic: dict[str, set[_Subscriber]] = {}

    def add(self, topic: str) -> _Subscriber:
        subscriber = _Subscriber(self._buffer_size)
        self.by_topic.setdefault(topic, set()).add(subscriber)
        return subscriber

    def remove(self, topic: str, subscriber: _Subscriber) -> bool:
        """Forget the subscriber; True when it was the topic's last."""
        group = self.by_topic.get(topic)
        if group is None:
            return False
        group.discard(subscriber)
        if group:
            return False
        del self.by_topic[topic]
        return True

    def deliver(self, topic: str, event: Event) -> None:
        for subscriber in list(self.by_topic.get(topic, ())):
            if subscriber.overflowed:
                continue
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._end(subscriber, None)

    def end_all(self, failure: str | None = None) -> None:
        """End every stream: cleanly (``failure`` None) or with ``SubscriberTooSlow``."""
        for group in self.by_topic.values():
            for subscriber in group:
                self._end(subscriber, failure, closed=failure is None)
        self.by_topic.clear()

    @staticmethod
    def _end(subscriber: _Subscriber, failure: str | None, closed: bool = False) -> None:
        subscriber.overflowed = True
        subscriber.closed = closed
        subscriber.failure = failure
        with contextlib.suppress(asyncio.QueueEmpty):
            while subscriber.queue.full():
                subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(None)

    @staticmethod
    async def events(topic: str, subscriber: _Subscriber) -> AsyncIterator[Event]:
        while True:
            event = await subscriber.queue.get()
            if event is None:
                if subscriber.closed:
                    return
                raise SubscriberTooSlow(subscriber.failure or f"subscriber to {topic} fell behind")
            yield event
