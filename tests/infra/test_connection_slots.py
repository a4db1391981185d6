"""Connection places in-process and in Redis: the limit holds, a given-back place frees up, and
a place whose holder stopped renewing lapses by itself."""

from __future__ import annotations

import asyncio

from infra.connection_slots import InProcessConnectionSlots, RedisConnectionSlots


async def test_in_process_places_hold_the_limit() -> None:
    slots = InProcessConnectionSlots()
    first, second = await slots.take("ws:u", 2), await slots.take("ws:u", 2)

    refused = await slots.take("ws:u", 2)
    other = await slots.take("ws:v", 2)
    assert first is not None and second is not None
    await slots.give_back("ws:u", first)
    again = await slots.take("ws:u", 2)

    assert refused is None and other is not None and again is not None
    assert slots.count("ws:u") == 2


async def test_redis_places_are_shared_and_lapse_without_renewal(redis_url: str) -> None:
    replica_a = RedisConnectionSlots(redis_url, ttl_seconds=0.5, prefix="test:slots:")
    replica_b = RedisConnectionSlots(redis_url, ttl_seconds=0.5, prefix="test:slots:")
    try:
        on_a = await replica_a.take("ws:u", 2)
        on_b = await replica_b.take("ws:u", 2)
        refused = await replica_a.take("ws:u", 2)
        assert on_a is not None and on_b is not None
        for _ in range(3):  # b keeps its place alive; a's holder died and stops renewing
            await asyncio.sleep(0.25)
            await replica_b.renew("ws:u", on_b)

        after_lapse = await replica_b.take("ws:u", 2)
        full_again = await replica_a.take("ws:u", 2)
        await replica_b.give_back("ws:u", on_b)
        after_give_back = await replica_a.take("ws:u", 2)

        assert refused is None
        assert after_lapse is not None  # a's place lapsed
        assert full_again is None
        assert after_give_back is not None
    finally:
        await replica_a.close()
        await replica_b.close()
