"""Back-off and lockout after repeated failures, per key (``account:<id>``, ``ip:<addr>``).

The rule (``LockoutPolicy``): ``max_failures`` failures within ``window_seconds`` lock the key
for ``first_lockout_seconds``; each further lockout doubles, up to ``max_lockout_seconds``.
A key's history (and so its lockout level) is forgotten after ``forget_after_seconds`` without
a failure, or at once on ``record_success``. Callers ask ``check`` before doing expensive work
(a password verify) and refuse with ``RATE_LIMITED`` while it returns more than zero.

Three implementations share the ``FailureLimiter`` protocol: Redis (one Lua script per failure,
so concurrent replicas count atomically; keys expire on their own) when ``REVENGE_CACHE_URL`` is
set; otherwise PostgreSQL (an UNLOGGED table, one row per key updated under its row lock with the
very same ``_fail``), so the processes of one ``revenge serve`` count one lockout together
instead of each granting its own five tries; in-process (a bounded dict, oldest entries evicted
first) only where there is no database (tests, tools). Time comes from an injectable clock;
Redis and PostgreSQL store wall-clock seconds, so replicas should keep their clocks in sync
(NTP), which they need for token expiry anyway.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from infra.redis_client import redis_client

__all__ = [
    "FailureLimiter",
    "InProcessLimiter",
    "LockoutPolicy",
    "PostgresLimiter",
    "RedisLimiter",
    "open_limiter",
]

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    max_failures: int = 5
    window_seconds: float = 15 * 60
    first_lockout_seconds: float = 60
    max_lockout_seconds: float = 60 * 60
    forget_after_seconds: float = 24 * 60 * 60


class FailureLimiter(Protocol):
    async def check(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when allowed now."""
        ...

    async def record_failure(self, key: str) -> float:
        """Count a failure; returns the lockout now in force (0 when not locked)."""
        ...

    async def record_success(self, key: str) -> None:
        """Forget ``key``'s failures and lockout level."""
        ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class _State:
    failures: int = 0
    window_start: float = 0.0
    locked_until: float = 0.0
    level: int = 0
    last_failure: float = 0.0


def _fail(state: _State, now: float, policy: LockoutPolicy) -> None:
    # The Lua script in RedisLimiter mirrors this function line for line.
    if state.failures == 0 or now - state.window_start > policy.window_seconds:
        state.failures = 0
        state.window_start = now
    state.failures += 1
    state.last_failure = now
    if state.failures >= policy.max_failures:
        state.level += 1
        duration = policy.first_lockout_seconds * 2.0 ** min(state.level - 1, 30)
        state.locked_until = now + min(duration, policy.max_lockout_seconds)
        state.failures = 0


class InProcessLimiter:
    """One node's limiter; at most ``max_keys`` keys, least recently failed evicted first."""

    def __init__(
        self,
        policy: LockoutPolicy | None = None,
        *,
        clock: Clock = time.time,
        max_keys: int = 100_000,
    ) -> None:
        self._policy = policy or LockoutPolicy()
        self._clock = clock
        self._max_keys = max_keys
        self._states: OrderedDict[str, _State] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    def _live(self, key: str, now: float) -> _State | None:
        state = self._states.get(key)
        if state is not None and now >= self._expires_at(state):
            del self._states[key]
            return None
        return state

    def _expires_at(self, state: _State) -> float:
        return max(state.locked_until, state.last_failure) + self._policy.forget_after_seconds

    async def check(self, key: str) -> float:
        now = self._clock()
        state = self._live(key, now)
        return max(0.0, state.locked_until - now) if state else 0.0

    async def record_failure(self, key: str) -> float:
        now = self._clock()
        state = self._live(key, now) or _State()
        _fail(state, now, self._policy)
        self._states[key] = state
        self._states.move_to_end(key)
        self._evict(now)
        return max(0.0, state.locked_until - now)

    async def record_success(self, key: str) -> None:
        self._states.pop(key, None)

    def _evict(self, now: float) -> None:
        # Entries are ordered by last failure, so expired ones sit at the front.
        while self._states:
            oldest = next(iter(self._states.values()))
            if len(self._states) <= self._max_keys and now < self._expires_at(oldest):
                break
            self._states.popitem(last=False)

    async def close(self) -> None:
        self._states.clear()


_FAIL_SCRIPT = """
local now = tonumber(ARGV[1])
local max_failures = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local first = tonumber(ARGV[4])
local max_lockout = tonumber(ARGV[5])
local forget = tonumber(ARGV[6])
local s = redis.call('HMGET', KEYS[1], 'failures', 'window_start', 'locked_until', 'level',
  'expires_at')
local failures = tonumber(s[1]) or 0
local window_start = tonumber(s[2]) or now
local locked_until = tonumber(s[3]) or 0
local level = tonumber(s[4]) or 0
if now >= (tonumber(s[5]) or now + 1) then
  -- forgotten by the caller's clock, even if Redis has not expired the key yet
  failures, window_start, locked_until, level = 0, now, 0, 0
end
if failures == 0 or now - window_start > window then
  failures = 0
  window_start = now
end
failures = failures + 1
if failures >= max_failures then
  level = level + 1
  local duration = first * 2 ^ math.min(level - 1, 30)
  locked_until = now + math.min(duration, max_lockout)
  failures = 0
end
local expires_at = math.max(locked_until, now) + forget
redis.call('HSET', KEYS[1], 'failures', failures, 'window_start', tostring(window_start),
  'locked_until', tostring(locked_until), 'level', level, 'expires_at', tostring(expires_at))
redis.call('PEXPIRE', KEYS[1], math.ceil((expires_at - now) * 1000))
return tostring(math.max(0, locked_until - now))
"""


class RedisLimiter:
    """Shared by every replica: state is a Redis hash per key, updated by one Lua script."""

    PREFIX = "revenge:lockout:"

    def __init__(
        self, url: str, policy: LockoutPolicy | None = None, *, clock: Clock = time.time
    ) -> None:
        self._redis = redis_client(url)
        self._policy = policy or LockoutPolicy()
        self._clock = clock
        self._fail_script = self._redis.register_script(_FAIL_SCRIPT)

    async def check(self, key: str) -> float:
        value = await self._redis.hget(self.PREFIX + key, "locked_until")
        if value is None:
            return 0.0
        return max(0.0, float(value) - self._clock())

    async def record_failure(self, key: str) -> float:
        policy = self._policy
        result = await self._fail_script(
            keys=[self.PREFIX + key],
            args=[
                repr(self._clock()),
                policy.max_failures,
                repr(policy.window_seconds),
                repr(policy.first_lockout_seconds),
                repr(policy.max_lockout_seconds),
                repr(policy.forget_after_seconds),
            ],
        )
        remaining = float(result)
        return remaining if math.isfinite(remaining) else 0.0

    async def record_success(self, key: str) -> None:
        await self._redis.delete(self.PREFIX + key)

    async def close(self) -> None:
        await self._redis.aclose()


_LIMIT_ENSURE = "INSERT INTO failure_limits (key) VALUES ($1) ON CONFLICT (key) DO NOTHING"
_LIMIT_LOCK = (
    "SELECT failures, window_start, locked_until, level, last_failure "
    "FROM failure_limits WHERE key = $1 FOR UPDATE"
)
_LIMIT_WRITE = (
    "UPDATE failure_limits SET failures = $2, window_start = $3, locked_until = $4, level = $5, "
    "last_failure = $6, expires_at = $7 WHERE key = $1"
)


class PostgresLimiter:
    """Shared by every process on one database: a row per key in ``failure_limits``.

    A failure is one transaction: make sure the row exists, lock it (``FOR UPDATE``), apply
    ``_fail`` and write it back, so failures from several processes at once are all counted and
    none is lost to a read-modify-write race. Expired rows are swept every ``sweep_every``
    failures recorded by this instance.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        policy: LockoutPolicy | None = None,
        *,
        clock: Clock = time.time,
        sweep_every: int = 1000,
    ) -> None:
        self._pool = pool
        self._policy = policy or LockoutPolicy()
        self._clock = clock
        self._sweep_every = sweep_every
        self._failures = 0

    def _expires_at(self, state: _State) -> float:
        return max(state.locked_until, state.last_failure) + self._policy.forget_after_seconds

    async def check(self, key: str) -> float:
        now = self._clock()
        row = await self._pool.fetchrow(
            "SELECT locked_until, expires_at FROM failure_limits WHERE key = $1", key
        )
        if row is None or now >= row["expires_at"]:
            return 0.0
        return max(0.0, float(row["locked_until"]) - now)

    async def record_failure(self, key: str) -> float:
        now = self._clock()
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_LIMIT_ENSURE, key)
            row = await conn.fetchrow(_LIMIT_LOCK, key)
            state = _State(**dict(row)) if row is not None else _State()
            if now >= self._expires_at(state):
                state = _State()
            _fail(state, now, self._policy)
            await conn.execute(
                _LIMIT_WRITE,
                key,
                state.failures,
                state.window_start,
                state.locked_until,
                state.level,
                state.last_failure,
                self._expires_at(state),
            )
        self._failures += 1
        if self._failures % self._sweep_every == 0:
            await self._pool.execute("DELETE FROM failure_limits WHERE expires_at <= $1", now)
        return max(0.0, state.locked_until - now)

    async def record_success(self, key: str) -> None:
        await self._pool.execute("DELETE FROM failure_limits WHERE key = $1", key)

    async def close(self) -> None:
        return None  # the pool belongs to the lifespan


def open_limiter(
    cache_url: str | None,
    policy: LockoutPolicy | None = None,
    *,
    pool: asyncpg.Pool | None,
    clock: Clock = time.time,
) -> FailureLimiter:
    """Redis when a cache URL is configured, else PostgreSQL: either way every process and
    replica shares one count. In-process only without a pool (no database at all)."""
    if cache_url:
        return RedisLimiter(cache_url, policy, clock=clock)
    if pool is not None:
        return PostgresLimiter(pool, policy, clock=clock)
    return InProcessLimiter(policy, clock=clock)
