"""The event bus over PostgreSQL LISTEN/NOTIFY: every process on the same database shares events
without Redis.

Why it is shaped this way:

- One channel (``revenge_bus``) for every topic, on one dedicated connection per process. Topics
  come and go by the thousand (one per scan, transcode, party); a channel per topic would mean a
  ``LISTEN``/``UNLISTEN`` round trip per first and last subscriber and a per-topic confirmation to
  wait for. With one channel the connection listens once, a process receives every event and
  hands it to its local subscribers of the topic named inside the payload, so ``wait_subscribed``
  only has to wait for that one ``LISTEN``. The connection is not taken from the pool: a pooled
  connection is reset and shared between requests, and the pool's release skips ``UNLISTEN``
  (``infra/database.py``); a listener must stay put for the process's life.
- Payloads too large for ``NOTIFY`` (PostgreSQL refuses 8000 bytes or more) go by reference: the
  event is stored as a row of ``bus_payloads`` and the notification carries its id and topic,
  inserted and notified in one statement so the row is visible when the notification arrives.
  Several processes may read the same row, so nobody deletes it on reading; rows older than a
  minute are deleted now and then by every listening process. A process with no subscriber of the
  topic never reads the row.
- Losing PostgreSQL (restart, killed connection, a dead network found by the keepalive) ends every
  local stream with ``SubscriberTooSlow``: events published meanwhile are gone, and only the
  subscriber knows how to catch up (re-read state, resubscribe). The listener then reconnects in
  the background with a doubling delay; subscriptions made meanwhile wait for it, bounded.
  Connecting, listening and publishing all have timeouts, so nothing hangs on a dead server, and
  publishing raises ``BusUnavailable``.

Notifications are decoded once per process and delivered by one task in arrival order, which
PostgreSQL makes commit order: events one publisher sends one after another arrive in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import structlog

from infra.bus_topics import BusUnavailable, Event, LocalTopics, SubscriberTooSlow

__all__ = ["CHANNEL", "INLINE_LIMIT_BYTES", "PostgresBus"]

log = structlog.get_logger("revenge.bus")

CHANNEL = "revenge_bus"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; keep a margin below it.
INLINE_LIMIT_BYTES = 7_500
APPLICATION_NAME = "revenge-bus"
REFERENCE_MARK = "#"

# What a dead or restarting server raises: refused sockets, closed connections, "the database
# system is shutting down / starting up" (operator intervention), and our own timeouts.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
)

_PUBLISH_BY_REFERENCE = """
WITH stored AS (INSERT INTO bus_payloads (body) VALUES ($2) RETURNING id)
SELECT pg_notify($1, $3 || id || ' ' || $4) FROM stored
"""


@dataclass(slots=True)
class _Lost:
    """Queued behind the notifications a lost connection delivered, so they go out first."""

    reason: str
    handled: asyncio.Event = field(default_factory=asyncio.Event)


class PostgresBus:
    """Publish with ``pg_notify`` on the pool; one dedicated connection per process listens.

    ``dsn`` is the database the pool is on (``Database.url``). The listener starts with the first
    subscription, so a process that only publishes holds no extra connection.
    """

    CONNECT_TIMEOUT_SECONDS = 5.0
    PUBLISH_TIMEOUT_SECONDS = 5.0
    SUBSCRIBE_WAIT_SECONDS = 10.0
    RECONNECT_MIN_SECONDS = 0.1
    RECONNECT_MAX_SECONDS = 2.0

    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        *,
        channel: str = CHANNEL,
        buffer_size: int = 256,
        keepalive_seconds: float = 10.0,
        payload_seconds: float = 60.0,
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._channel = channel
        self._keepalive_seconds = keepalive_seconds
        self._payload_seconds = payload_seconds
        self._local = LocalTopics(buffer_size)
        self._listening = asyncio.Event()
        self._inbox: asyncio.Queue[str | _Lost] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    async def publish(self, topic: str, event: Event) -> None:
        # ensure_ascii (the default) keeps every character one byte: the length is the size.
        body = json.dumps([topic, event], separators=(",", ":"))
        try:
            async with asyncio.timeout(self.PUBLISH_TIMEOUT_SECONDS):
                if len(body) < INLINE_LIMIT_BYTES:
                    await self._pool.execute("SELECT pg_notify($1, $2)", self._channel, body)
                else:
                    await self._pool.execute(
                        _PUBLISH_BY_REFERENCE, self._channel, body, REFERENCE_MARK, topic
                    )
        except _UNREACHABLE as error:
            raise BusUnavailable(
                f"the event bus cannot reach PostgreSQL to publish on {topic}: {error!r}"
            ) from error

    async def subscribe(self, topic: str) -> AsyncIterator[Event]:
        if self._closed:
            return  # a closed bus's streams end, as the ones open when it closed did
        subscriber = self._local.add(topic)  # at once: wait_subscribed counts on it
        try:
            self._start()
            if not self._listening.is_set():
                try:
                    async with asyncio.timeout(self.SUBSCRIBE_WAIT_SECONDS):
                        await self._listening.wait()
                except TimeoutError:
                    raise SubscriberTooSlow(
                        f"subscriber to {topic}: the event bus cannot reach PostgreSQL"
                    ) from None
            async for event in self._local.events(topic, subscriber):
                yield event
        finally:
            self._local.remove(topic, subscriber)

    async def wait_subscribed(self, topic: str) -> None:
        """Returns once the listener's ``LISTEN`` is in place: a stream registers when it starts,
        so every event published from then on reaches it (or it ends with ``SubscriberTooSlow``)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.SUBSCRIBE_WAIT_SECONDS):
                await self._listening.wait()

    def subscriber_count(self, topic: str) -> int:
        return len(self._local.by_topic.get(topic, ()))

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    async def close(self) -> None:
        self._closed = True
        self._local.end_all()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _start(self) -> None:
        if self._tasks or self._closed:
            return
        self._tasks = [
            asyncio.create_task(self._listen(), name="postgres-bus-listener"),
            asyncio.create_task(self._dispatch(), name="postgres-bus-dispatcher"),
        ]

    async def _listen(self) -> None:
        """Hold the listening connection; after a loss, end the streams and connect again."""
        delay = self.RECONNECT_MIN_SECONDS
        while not self._closed:
            try:
                connection = await asyncpg.connect(
                    self._dsn,
                    timeout=self.CONNECT_TIMEOUT_SECONDS,
                    server_settings={"application_name": APPLICATION_NAME},
                )
            except (*_UNREACHABLE, asyncpg.PostgresError) as error:
                log.warning("event bus cannot reach PostgreSQL", error=repr(error), retry=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.RECONNECT_MAX_SECONDS)
                continue
            try:
                reason = await self._serve(connection)
            finally:
                self._listening.clear()
                connection.terminate()
            log.warning("event bus lost PostgreSQL", error=reason)
            lost = _Lost(f"the event bus lost PostgreSQL: {reason}")
            self._inbox.put_nowait(lost)
            await lost.handled.wait()
            delay = self.RECONNECT_MIN_SECONDS
            await asyncio.sleep(delay)

    async def _serve(self, connection: asyncpg.Connection) -> str:
        """Listen until the connection is lost; returns why. Each keepalive tick proves the
        connection still answers (a dead network closes nothing) and forgets old payloads."""
        closed = asyncio.Event()
        connection.add_termination_listener(lambda _connection: closed.set())
        try:
            async with asyncio.timeout(self.CONNECT_TIMEOUT_SECONDS):
                await connection.add_listener(self._channel, self._on_notification)
            self._listening.set()
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._keepalive_seconds):
                        await closed.wait()
                if closed.is_set():
                    return "the connection closed"
                async with asyncio.timeout(self.CONNECT_TIMEOUT_SECONDS):
                    await connection.execute("SELECT 1")
                await self._forget_old_payloads()
        except _UNREACHABLE as error:
            return repr(error)

    def _on_notification(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        self._inbox.put_nowait(payload)

    async def _dispatch(self) -> None:
        """One task hands events out in arrival order, each decoded once for all subscribers."""
        while True:
            item = await self._inbox.get()
            if isinstance(item, _Lost):
                self._local.end_all(item.reason)
                item.handled.set()
                continue
            if not self._local.by_topic:
                continue  # nobody here listens: not even worth decoding
            try:
                decoded = await self._decode(item)
            except Exception:
                log.exception("event bus could not read an event")
                continue
            if decoded is not None:
                self._local.deliver(*decoded)

    async def _decode(self, payload: str) -> tuple[str, Event] | None:
        if payload.startswith(REFERENCE_MARK):
            reference, _, topic = payload[len(REFERENCE_MARK) :].partition(" ")
            if topic not in self._local.by_topic:
                return None
            async with asyncio.timeout(self.PUBLISH_TIMEOUT_SECONDS):
                body = await self._pool.fetchval(
                    "SELECT body FROM bus_payloads WHERE id = $1", int(reference)
                )
            if body is None:
                log.warning("event bus payload was gone before it was read", topic=topic)
                return None
            payload = body
        topic, event = json.loads(payload)
        return topic, event

    async def _forget_old_payloads(self) -> None:
        try:
            async with asyncio.timeout(self.PUBLISH_TIMEOUT_SECONDS):
                await self._pool.execute(
                    "DELETE FROM bus_payloads WHERE created_at < now() - make_interval(secs => $1)",
                    self._payload_seconds,
                )
        except (*_UNREACHABLE, asyncpg.PostgresError) as error:
            log.warning("event bus could not delete old payloads", error=repr(error))
