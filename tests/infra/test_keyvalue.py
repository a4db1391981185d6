"""Short-lived shared values: the same behaviour in memory and in Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from infra.keyvalue import InProcessKeyValue, KeyValue, RedisKeyValue, open_keyvalue


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[KeyValue]:
    if request.param == "memory":
        opened: KeyValue = InProcessKeyValue()
    else:
        opened = open_keyvalue(request.getfixturevalue("redis_url"))
        assert isinstance(opened, RedisKeyValue)
    try:
        yield opened
    finally:
        await opened.delete("k")
        await opened.close()


async def test_a_value_is_read_back_until_it_expires(store: KeyValue) -> None:
    await store.set("k", b"worker-1", 0.3)

    now = await store.get("k")
    await asyncio.sleep(0.45)
    later = await store.get("k")

    assert (now, later) == (b"worker-1", None)


async def test_set_replaces_and_delete_forgets(store: KeyValue) -> None:
    await store.set("k", b"a", 10)
    await store.set("k", b"b", 10)
    replaced = await store.get("k")
    await store.delete("k")

    assert (replaced, await store.get("k"), await store.get("never")) == (b"b", None, None)


async def test_the_memory_store_stays_bounded() -> None:
    store = InProcessKeyValue(max_entries=3)
    for number in range(5):
        await store.set(f"k{number}", b"x", 60)

    kept = [await store.get(f"k{number}") for number in range(5)]

    assert kept.count(b"x") == 3 and kept[-1] == b"x"
