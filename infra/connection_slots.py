"""Counted places for long-lived connections (a user's WebSockets), shared by every replica.

With ``REVENGE_CACHE_URL`` set, a user's places live in Redis, so a limit of 20 sockets means
20 across all gateway replicas, not 20 on each. A place is a member of a sorted set scored by
its expiry: its holder renews it while the connection lives, and a replica that dies without
giving places back leaves them for at most ``ttl_seconds``. Without Redis they live in
PostgreSQL (``connection_slots``, UNLOGGED) with the same expiry and renewal, so the processes of
one ``revenge serve`` share one count. The in-process store is only for an app without a
database (tests); its count is that process's own.
"""

from __future__ import annotations

import time
import uuid
from typing import Protocol

import asyncpg

from infra.redis_client import redis_client

__all__ = [
    "ConnectionSlots",
    "InProcessConnectionSlots",
    "PostgresConnectionSlots",
    "RedisConnectionSlots",
    "open_connection_slots",
]


class ConnectionSlots(Protocol):
    ttl_seconds: float

    async def take(self, key: str, limit: int) -> str | None:
        """A token for a new place under ``key``, or None when ``limit`` places are taken."""

    async def renew(self, key: str, token: str) -> None: ...

    async def give_back(self, key: str, token: str) -> None: ...

    async def close(self) -> None: ...


class InProcessConnectionSlots:
    ttl_seconds = float("inf")

    def __init__(self) -> None:
        self._taken: dict[str, set[str]] = {}

    async def take(self, key: str, limit: int) -> str | None:
        taken = self._taken.setdefault(key, set())
        if len(taken) >= limit:
            return None
        token = uuid.uuid4().hex
        taken.add(token)
        return token

    async def renew(self, key: str, token: str) -> None:
        return None

    async def give_back(self, key: str, token: str) -> None:
        taken = self._taken.get(key)
        if taken is not None:
            taken.discard(token)
            if not taken:
                del self._taken[key]

    def count(self, key: str) -> int:
        return len(self._taken.get(key, ()))

    async def close(self) -> None:
        self._taken.clear()


# Drop lapsed places, then take one if fewer than the limit remain; atomic in Redis.
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


class RedisConnectionSlots:
    def __init__(self, url: str, ttl_seconds: float = 60.0, prefix: str = "revenge:slots:") -> None:
        self._redis = redis_client(url)
        self._take = self._redis.register_script(_TAKE)
        self.ttl_seconds = ttl_seconds
        self._prefix = prefix

    def _ttl_ms(self) -> int:
        return int(self.ttl_seconds * 1000)

    async def take(self, key: str, limit: int) -> str | None:
        now_ms = int(time.time() * 1000)
        token = uuid.uuid4().hex
        taken = await self._take(
            keys=[self._prefix + key],
            args=[now_ms, limit, now_ms + self._ttl_ms(), token, self._ttl_ms()],
        )
        return token if taken == 1 else None

    async def renew(self, key: str, token: str) -> None:
        expires = int(time.time() * 1000) + self._ttl_ms()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self._prefix + key, {token: expires}, xx=True)
            pipe.pexpire(self._prefix + key, self._ttl_ms())
            await pipe.execute()

    async def give_back(self, key: str, token: str) -> None:
        await self._redis.zrem(self._prefix + key, token)

    async def close(self) -> None:
        await self._redis.aclose()


class PostgresConnectionSlots:
    """Places as rows of ``connection_slots``. A take holds a transaction-scoped advisory lock on
    its key, drops the key's lapsed places, counts and inserts: takes for one key from any
    process run one after the other, so the limit holds however many arrive at once."""

    def __init__(self, pool: asyncpg.Pool, ttl_seconds: float = 60.0) -> None:
        self._pool = pool
        self.ttl_seconds = ttl_seconds

    async def take(self, key: str, limit: int) -> str | None:
        token = uuid.uuid4()
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('slots:' || $1, 0))", key
            )
            await conn.execute(
                "DELETE FROM connection_slots WHERE key = $1 AND expires_at <= now()", key
            )
            taken = await conn.fetchval("SELECT count(*) FROM connection_slots WHERE key = $1", key)
            if taken >= limit:
                return None
            await conn.execute(
                "INSERT INTO connection_slots (key, token, expires_at) "
                "VALUES ($1, $2, now() + make_interval(secs => $3))",
                key,
                token,
                self.ttl_seconds,
            )
        return token.hex

    async def renew(self, key: str, token: str) -> None:
        # A lapsed place stays lapsed (the next take may already have counted it free).
        await self._pool.execute(
            "UPDATE connection_slots SET expires_at = now() + make_interval(secs => $3) "
            "WHERE key = $1 AND token = $2 AND expires_at > now()",
            key,
            uuid.UUID(token),
            self.ttl_seconds,
        )

    async def give_back(self, key: str, token: str) -> None:
        await self._pool.execute(
            "DELETE FROM connection_slots WHERE key = $1 AND token = $2", key, uuid.UUID(token)
        )

    async def close(self) -> None:
        return None  # the pool belongs to the lifespan


def open_connection_slots(cache_url: str | None, pool: asyncpg.Pool | None) -> ConnectionSlots:
    """Redis when configured, else PostgreSQL: one count for every process. In-process only
    without a pool."""
    if cache_url:
        return RedisConnectionSlots(cache_url)
    if pool is not None:
        return PostgresConnectionSlots(pool)
    return InProcessConnectionSlots()
