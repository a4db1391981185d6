"""Short-lived shared values: Redis when ``REVENGE_CACHE_URL`` is set, a dictionary otherwise.

For facts that change every few seconds and that every replica may ask for on every request
(which worker makes a session's segments), where a database round trip each time would be the
cost that matters. Values expire on their own: a writer that dies leaves nothing behind for
longer than its ``ttl``. The in-process store only knows what this process wrote, so callers
treat a miss as "ask the database".

Safe per process when several ``revenge serve`` processes run without Redis; each caller was
checked: the session → worker map (``resolvers.playback.transcodes``) is written by this
process's own transcoder, a miss asks PostgreSQL, and a stale hit (the run moved or ended) is
found out by the worker (``_RunEnded`` locally, 503 from a peer), forgotten, and asked of
PostgreSQL. Persisted queries open a key-value store only with Redis (their documents are in
PostgreSQL behind an in-process LRU).
"""

from __future__ import annotations

import time
from typing import Protocol

from infra.redis_client import redis_client

__all__ = ["InProcessKeyValue", "KeyValue", "RedisKeyValue", "open_keyvalue"]


class KeyValue(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def close(self) -> None: ...


class InProcessKeyValue:
    def __init__(self, max_entries: int = 65_536) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, bytes]] = {}

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        if len(self._entries) >= self.max_entries:
            now = time.monotonic()
            self._entries = {k: e for k, e in self._entries.items() if e[0] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (time.monotonic() + ttl_seconds, value)

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def close(self) -> None:
        self._entries.clear()


class RedisKeyValue:
    def __init__(self, url: str, prefix: str = "revenge:") -> None:
        self._redis = redis_client(url)
        self._prefix = prefix

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self._prefix + key)
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        await self._redis.set(self._prefix + key, value, px=max(1, int(ttl_seconds * 1000)))

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()


def open_keyvalue(cache_url: str | None) -> KeyValue:
    return RedisKeyValue(cache_url) if cache_url else InProcessKeyValue()
