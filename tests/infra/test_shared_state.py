"""State several ``revenge serve`` processes share through PostgreSQL: lockouts and connection
places counted once for all of them, whether the other "process" is a second instance on its own
pool or a real child OS process."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import asyncpg

from infra.connection_slots import PostgresConnectionSlots
from infra.database import create_pool
from infra.ratelimit import PostgresLimiter
from tests.support.clock import Clock

ROOT = Path(__file__).resolve().parents[2]


async def test_two_limiters_on_one_database_count_one_lockout(
    pool: asyncpg.Pool, database_url: str, clock: Clock
) -> None:
    other_pool = await create_pool(database_url, 1, 4)
    try:
        first, second = PostgresLimiter(pool, clock=clock), PostgresLimiter(other_pool, clock=clock)
        seen = [
            await first.record_failure("account:a"),
            await second.record_failure("account:a"),
            await first.record_failure("account:a"),
            await second.record_failure("account:a"),
            await first.record_failure("account:a"),
        ]

        assert seen == [0.0, 0.0, 0.0, 0.0, 60.0]
        assert await second.check("account:a") == 60.0
    finally:
        await other_pool.close()


async def test_concurrent_failures_from_two_limiters_are_all_counted(
    pool: asyncpg.Pool, database_url: str, clock: Clock
) -> None:
    other_pool = await create_pool(database_url, 1, 4)
    try:
        limiters = [PostgresLimiter(pool, clock=clock), PostgresLimiter(other_pool, clock=clock)]
        results = await asyncio.gather(
            *(limiters[n % 2].record_failure("ip:203.0.113.9") for n in range(4))
        )
        failures = await pool.fetchval(
            "SELECT failures FROM failure_limits WHERE key = 'ip:203.0.113.9'"
        )

        assert sorted(results) == [0.0, 0.0, 0.0, 0.0]
        assert failures == 4
    finally:
        await other_pool.close()


async def test_a_child_process_failures_lock_the_key_here(
    pool: asyncpg.Pool, database_url: str
) -> None:
    child = textwrap.dedent(
        f"""
        import asyncio, asyncpg
        from infra.ratelimit import PostgresLimiter

        async def main():
            pool = await asyncpg.create_pool({database_url!r}, min_size=1, max_size=1)
            limiter = PostgresLimiter(pool)
            for _ in range(4):
                await limiter.record_failure("account:child")
            await pool.close()

        asyncio.run(main())
        """
    )
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", child, cwd=ROOT)
    assert await asyncio.wait_for(process.wait(), 60) == 0
    here = PostgresLimiter(pool)

    locked = await here.record_failure("account:child")

    assert locked == 60.0
    assert await here.check("account:child") > 0.0


async def test_concurrent_takes_from_two_slot_stores_never_pass_the_limit(
    pool: asyncpg.Pool, database_url: str
) -> None:
    other_pool = await create_pool(database_url, 1, 4)
    try:
        stores = [PostgresConnectionSlots(pool), PostgresConnectionSlots(other_pool)]
        tokens = await asyncio.gather(*(stores[n % 2].take("ws:u", 3) for n in range(10)))
        held = await pool.fetchval("SELECT count(*) FROM connection_slots WHERE key = 'ws:u'")

        assert sum(token is not None for token in tokens) == 3
        assert held == 3
    finally:
        await other_pool.close()


async def test_a_place_given_back_or_lapsed_frees_up(pool: asyncpg.Pool) -> None:
    slots = PostgresConnectionSlots(pool, ttl_seconds=30.0)
    first = await slots.take("ws:v", 2)
    second = await slots.take("ws:v", 2)
    assert first is not None and second is not None
    refused = await slots.take("ws:v", 2)

    await slots.give_back("ws:v", first)
    again = await slots.take("ws:v", 2)
    # A process that died without giving its place back: the place lapses at its expiry.
    await pool.execute(
        "UPDATE connection_slots SET expires_at = now() - interval '1 second' WHERE token = $1",
        second,
    )
    await slots.renew("ws:v", second)  # too late: a lapsed place is not brought back
    after_lapse = await slots.take("ws:v", 2)

    assert refused is None
    assert again is not None
    assert after_lapse is not None
    assert await pool.fetchval("SELECT count(*) FROM connection_slots WHERE key = 'ws:v'") == 2
