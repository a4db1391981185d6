"""Who a credential stands for, remembered per process so a request needs no database round trip
to authenticate, while sign-out, a password change, disabling, a role change, a profile change or
a revoked key still takes effect at once on every process.

How "at once" holds:

- A change to what makes a principal (session revoked, roles, disabled, profile limits, key or
  client revoked) calls ``changed(user_id)`` after its transaction commits: this process forgets
  the user's entries before the mutation answers, and the event goes out on the bus
  (``PRINCIPALS_CHANGED_TOPIC``) so every other process forgets them when it arrives (well under
  a millisecond on PostgreSQL LISTEN/NOTIFY or Redis, ``bench/bus.py``).
- The cache serves only while its bus subscription is confirmed. When the bus drops (PostgreSQL
  or Redis restarted), events sent meanwhile are lost, so the cache empties itself and every
  request reads the database until the subscription is back.
- A lookup that read the database while an invalidation arrived does not store what it read
  (a generation counter): the row it saw may be the old one.
- Entries live ``TTL_SECONDS`` at most (also the pace at which an API key's ``last_used_at`` is
  written while the key is in use), and an API key's entry never outlives the key's expiry.
- At most ``MAX_ENTRIES`` entries; the oldest go first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Hashable
from typing import Any

import structlog

from infra.authz.principal import Principal
from infra.bus_topics import BusUnavailable, EventBus, SubscriberTooSlow

__all__ = ["PRINCIPALS_CHANGED_TOPIC", "PrincipalCache"]

log = structlog.get_logger("revenge.auth")

PRINCIPALS_CHANGED_TOPIC = "principals_changed"
EVERYONE = "*"


class PrincipalCache:
    TTL_SECONDS = 60.0
    MAX_ENTRIES = 20_000
    RESUBSCRIBE_SECONDS = (0.2, 5.0)  # first and longest wait before subscribing again

    def __init__(self, bus: EventBus | None) -> None:
        self._bus = bus
        self._entries: dict[Hashable, tuple[float, str, Principal]] = {}
        self._by_user: dict[str, set[Hashable]] = {}
        self._generation = 0
        # Without a bus (a tool in one process) nothing else can change a principal unseen.
        self._live = bus is None
        self._follower: asyncio.Task[None] | None = None
        self.hits = 0
        self.misses = 0

    # lookups

    @property
    def serving(self) -> bool:
        return self._live

    def __len__(self) -> int:
        return len(self._entries)

    def user_ids(self) -> set[str]:
        """Whose principals are held."""
        return set(self._by_user)

    def get(self, key: Hashable) -> Principal | None:
        if not self._live:
            return None
        entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            self.misses += 1
            return None
        self.hits += 1
        return entry[2]

    def ticket(self) -> int:
        """Taken before reading the database; ``put`` stores only if nothing changed since."""
        return self._generation

    def put(
        self,
        ticket: int,
        key: Hashable,
        principal: Principal,
        *,
        expires_in: float | None = None,
    ) -> None:
        if not self._live or ticket != self._generation or principal.user_id is None:
            return
        ttl = self.TTL_SECONDS if expires_in is None else min(self.TTL_SECONDS, expires_in)
        if ttl <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES and key not in self._entries:
            self._drop(next(iter(self._entries)))  # the oldest
        self._entries[key] = (time.monotonic() + ttl, principal.user_id, principal)
        self._by_user.setdefault(principal.user_id, set()).add(key)

    # invalidation

    def forget(self, user_id: str | None) -> None:
        """Drop this process's entries of one user (``None`` or ``"*"``: of everyone)."""
        self._generation += 1
        if user_id is None or user_id == EVERYONE:
            self._entries.clear()
            self._by_user.clear()
            return
        for key in self._by_user.pop(user_id, ()):
            self._entries.pop(key, None)

    async def changed(self, user_id: str | None) -> None:
        """A committed change to ``user_id``'s principals (``None``: anyone's): forgotten here at
        once and on every other process when the bus delivers it."""
        self.forget(user_id)
        if self._bus is None:
            return
        try:
            await self._bus.publish(PRINCIPALS_CHANGED_TOPIC, {"user": user_id or EVERYONE})
        except BusUnavailable as error:
            # The bus is down, so every other process's cache is off until it is back.
            log.warning("could not announce a principal change", error=str(error))

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            keys = self._by_user.get(entry[1])
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_user[entry[1]]

    # following the bus

    def start(self) -> None:
        if self._bus is not None and self._follower is None:
            self._follower = asyncio.create_task(self._follow(), name="principal-cache")

    async def close(self) -> None:
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        self._live = False
        self.forget(None)

    async def _follow(self) -> None:
        assert self._bus is not None
        wait, longest = self.RESUBSCRIBE_SECONDS
        while True:
            stream = self._bus.subscribe(PRINCIPALS_CHANGED_TOPIC)
            reader = asyncio.create_task(self._read(stream))
            try:
                await self._bus.wait_subscribed(PRINCIPALS_CHANGED_TOPIC)
                if not reader.done() and getattr(self._bus, "listening", True):
                    self.forget(None)  # whatever was missed while off
                    self._live = True
                    wait = self.RESUBSCRIBE_SECONDS[0]
                await reader
            except (SubscriberTooSlow, BusUnavailable, OSError) as error:
                log.info("principal cache off until the bus is back", error=str(error))
            except Exception as error:  # anything else: the cache stays off, the server serves
                log.warning("principal cache off until the bus is back", error=repr(error))
            finally:
                self._live = False
                self.forget(None)
                if not reader.done():
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await reader
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()
            await asyncio.sleep(wait)
            wait = min(longest, wait * 2)

    async def _read(self, stream: Any) -> None:
        async for event in stream:
            user = event.get("user") if isinstance(event, dict) else None
            self.forget(user if isinstance(user, str) else None)
