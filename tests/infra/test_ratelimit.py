"""Failure back-off and lockout: the same cases for the in-process and the Redis limiter."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as redis

from infra.ratelimit import (
    FailureLimiter,
    InProcessLimiter,
    LockoutPolicy,
    PostgresLimiter,
    RedisLimiter,
    open_limiter,
)
from tests.support.clock import T0, Clock


@pytest.fixture(params=["in-process", "redis", "postgres"])
async def limiter(
    request: pytest.FixtureRequest, clock: Clock, pool: asyncpg.Pool
) -> AsyncIterator[FailureLimiter]:
    if request.param == "postgres":
        made: FailureLimiter = PostgresLimiter(pool, clock=clock)
    elif request.param == "redis":
        made = RedisLimiter(request.getfixturevalue("redis_url"), clock=clock)
    else:
        made = InProcessLimiter(clock=clock)
    yield made
    await made.close()


@pytest.fixture
def key() -> str:
    # The Redis server lives for the session: every test gets keys of its own.
    return f"account:{uuid.uuid4()}"


async def fail(limiter: FailureLimiter, key: str, times: int) -> list[float]:
    return [await limiter.record_failure(key) for _ in range(times)]


async def test_an_unknown_key_is_allowed(limiter: FailureLimiter, key: str) -> None:
    assert await limiter.check(key) == 0.0


async def test_four_failures_do_not_lock(limiter: FailureLimiter, key: str) -> None:
    assert await fail(limiter, key, 4) == [0.0, 0.0, 0.0, 0.0]
    assert await limiter.check(key) == 0.0


async def test_the_fifth_failure_locks_for_a_minute(
    limiter: FailureLimiter, key: str, clock: Clock
) -> None:
    assert await fail(limiter, key, 5) == [0.0, 0.0, 0.0, 0.0, 60.0]
    assert await limiter.check(key) == 60.0

    clock.now = T0 + 45
    assert await limiter.check(key) == 15.0
    clock.now = T0 + 60
    assert await limiter.check(key) == 0.0


async def test_each_further_lockout_doubles_up_to_an_hour(
    limiter: FailureLimiter, key: str, clock: Clock
) -> None:
    lockouts = []
    for _ in range(9):
        lockouts.append((await fail(limiter, key, 5))[-1])
        clock.now += lockouts[-1]

    assert lockouts == [60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3600.0, 3600.0, 3600.0]


async def test_failures_spread_beyond_the_window_do_not_add_up(
    limiter: FailureLimiter, key: str, clock: Clock
) -> None:
    await fail(limiter, key, 4)
    clock.now = T0 + 15 * 60 + 1

    assert await fail(limiter, key, 4) == [0.0, 0.0, 0.0, 0.0]
    assert await limiter.check(key) == 0.0
    assert await fail(limiter, key, 1) == [60.0]


async def test_failures_just_inside_the_window_add_up(
    limiter: FailureLimiter, key: str, clock: Clock
) -> None:
    await fail(limiter, key, 4)
    clock.now = T0 + 15 * 60

    assert await fail(limiter, key, 1) == [60.0]


async def test_success_clears_failures_and_the_lockout_level(
    limiter: FailureLimiter, key: str, clock: Clock
) -> None:
    await fail(limiter, key, 5)
    clock.now = T0 + 60
    await fail(limiter, key, 5)
    assert await limiter.check(key) == 120.0

    await limiter.record_success(key)

    assert await limiter.check(key) == 0.0
    assert await fail(limiter, key, 5) == [0.0, 0.0, 0.0, 0.0, 60.0]


async def test_history_is_forgotten_after_a_quiet_day(
    limiter: FailureLimiter, key: str, clock: Clock
) -> None:
    await fail(limiter, key, 5)
    clock.now = T0 + 60 + 24 * 60 * 60

    assert await fail(limiter, key, 5) == [0.0, 0.0, 0.0, 0.0, 60.0]


async def test_keys_are_independent(limiter: FailureLimiter, key: str) -> None:
    address = f"ip:{uuid.uuid4()}"
    await fail(limiter, key, 5)

    assert await limiter.check(key) == 60.0
    assert await limiter.check(address) == 0.0
    assert await fail(limiter, address, 1) == [0.0]


async def test_a_custom_policy_is_honoured(clock: Clock, redis_url: str, key: str) -> None:
    policy = LockoutPolicy(max_failures=2, window_seconds=10, first_lockout_seconds=5)
    for limiter in (
        InProcessLimiter(policy, clock=clock),
        RedisLimiter(redis_url, policy, clock=clock),
    ):
        assert await fail(limiter, key, 2) == [0.0, 5.0]
        assert await fail(limiter, key, 2) == [5.0, 10.0]
        await limiter.close()


async def test_redis_keys_expire_on_their_own(redis_url: str, clock: Clock, key: str) -> None:
    limiter = RedisLimiter(redis_url, clock=clock)
    await fail(limiter, key, 5)
    client = redis.from_url(redis_url)
    try:
        ttl = await client.ttl(RedisLimiter.PREFIX + key)
    finally:
        await client.aclose()
        await limiter.close()

    assert ttl == 60 + 24 * 60 * 60


async def test_redis_counts_concurrent_failures_atomically(
    redis_url: str, clock: Clock, key: str
) -> None:
    limiters = [RedisLimiter(redis_url, clock=clock) for _ in range(5)]
    try:
        results = await asyncio.gather(*(limiter.record_failure(key) for limiter in limiters))
        assert sorted(results) == [0.0, 0.0, 0.0, 0.0, 60.0]
    finally:
        for limiter in limiters:
            await limiter.close()


async def test_the_in_process_limiter_keeps_at_most_max_keys(clock: Clock) -> None:
    limiter = InProcessLimiter(clock=clock, max_keys=3)
    for number in range(5):
        await limiter.record_failure(f"ip:{number}")

    assert len(limiter) == 3
    assert await limiter.check("ip:0") == 0.0


async def test_the_in_process_limiter_drops_expired_entries(clock: Clock) -> None:
    limiter = InProcessLimiter(clock=clock)
    await limiter.record_failure("ip:old")
    clock.now = T0 + 24 * 60 * 60 + 1

    await limiter.record_failure("ip:new")

    assert len(limiter) == 1


async def test_open_limiter_picks_redis_then_postgres(redis_url: str, pool: asyncpg.Pool) -> None:
    in_process = open_limiter(None, pool=None)
    on_database = open_limiter(None, pool=pool)
    shared = open_limiter(redis_url, pool=pool)

    assert isinstance(in_process, InProcessLimiter)
    assert isinstance(on_database, PostgresLimiter)
    assert isinstance(shared, RedisLimiter)
    await in_process.close()
    await shared.close()
