"""The one way this process opens Redis: a client whose connection pool has a ceiling.

redis-py's default pool opens a new connection for every concurrent command and keeps it, so a
burst of 50 WebSockets connecting at once left 50 idle connections per replica. A blocking pool
with a ceiling makes a burst wait briefly for a free connection instead (Redis answers in well
under a millisecond here); a pub/sub subscription holds one connection of its own from it.
"""

from __future__ import annotations

import redis.asyncio as redis

__all__ = ["MAX_CONNECTIONS", "redis_client"]

MAX_CONNECTIONS = 16


def redis_client(url: str, max_connections: int = MAX_CONNECTIONS) -> redis.Redis:
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=10)
    return redis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes it
