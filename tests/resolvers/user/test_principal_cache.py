"""The principal cache (infra/principal_cache.py) with the real lookups, on real buses: two
buses on one database (or one Redis) stand for two server processes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from infra.authz.principal import Principal
from infra.bus import EventBus, PostgresBus, RedisBus
from infra.errors import Unauthenticated
from infra.principal_cache import PrincipalCache
from infra.tokens import KeyRing, verify_access_token
from resolvers.user.api_keys import create_api_key
from resolvers.user.principals import principal_for_access_token, principal_for_api_key
from tests.resolvers.user.conftest import MakeUser, signed_in


async def until(condition: object, seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # type: ignore[operator]  # noqa: ASYNC110 - any condition
            await asyncio.sleep(0.01)


@pytest.fixture
async def caches(
    pool: asyncpg.Pool, database_url: str
) -> AsyncIterator[tuple[PrincipalCache, PrincipalCache]]:
    channel = f"revenge_bus_test_{uuid.uuid4().hex[:8]}"
    buses = [PostgresBus(pool, database_url, channel=channel) for _ in range(2)]
    made = [PrincipalCache(bus) for bus in buses]
    for cache in made:
        cache.start()
    try:
        await until(lambda: all(cache.serving for cache in made))
        yield made[0], made[1]
    finally:
        for cache in made:
            await cache.close()
        for bus in buses:
            await bus.close()


async def test_a_cached_principal_costs_no_query_and_a_change_reaches_every_process(
    pool: asyncpg.Pool,
    make_user: MakeUser,
    ring: KeyRing,
    caches: tuple[PrincipalCache, PrincipalCache],
) -> None:
    here, there = caches
    user_id = await make_user()
    claims = verify_access_token(ring, (await signed_in(pool, ring)).access_token)
    first = await principal_for_access_token(pool, claims, there)

    # Revoked behind the cache's back (no announcement): the second lookup is served from
    # memory, which is what saves the round trip.
    await pool.execute("UPDATE auth_sessions SET revoked_at = now()")
    hits = there.hits
    assert await principal_for_access_token(pool, claims, there) is first
    assert there.hits == hits + 1

    # Announced by another process (as signOut does after its commit): forgotten here.
    await here.changed(str(user_id))
    await until(lambda: not len(there))
    with pytest.raises(Unauthenticated):
        await principal_for_access_token(pool, claims, there)
    with pytest.raises(Unauthenticated):
        await principal_for_access_token(pool, claims, here)


async def test_a_change_forgets_only_its_user_and_everyone_on_request(
    pool: asyncpg.Pool,
    make_user: MakeUser,
    ring: KeyRing,
    caches: tuple[PrincipalCache, PrincipalCache],
) -> None:
    here, there = caches
    alice, bob = await make_user("alice"), await make_user("bob")
    alice_claims = verify_access_token(ring, (await signed_in(pool, ring, "alice")).access_token)
    bob_claims = verify_access_token(ring, (await signed_in(pool, ring, "bob")).access_token)
    await principal_for_access_token(pool, alice_claims, there)
    await principal_for_access_token(pool, bob_claims, there)
    assert len(there) == 2

    await here.changed(str(alice))
    await until(lambda: len(there) == 1)
    assert there.user_ids() == {str(bob)}

    await here.changed(None)  # an administrator revoked some key: everyone's go
    await until(lambda: not len(there))


async def test_a_lookup_overtaken_by_a_change_stores_nothing() -> None:
    cache = PrincipalCache(None)
    principal = Principal(user_id="u1", auth_method="jwt")
    ticket = cache.ticket()
    cache.forget("someone else")  # arrives while the lookup waits on the database
    cache.put(ticket, "k", principal)
    assert cache.get("k") is None
    cache.put(cache.ticket(), "k", principal)
    assert cache.get("k") is principal


async def test_entries_expire_and_the_oldest_make_room() -> None:
    cache = PrincipalCache(None)
    cache.MAX_ENTRIES = 3
    for n in range(5):
        cache.put(cache.ticket(), n, Principal(user_id=f"u{n}", auth_method="jwt"))
    assert [cache.get(n) is not None for n in range(5)] == [False, False, True, True, True]
    assert cache.user_ids() == {"u2", "u3", "u4"}

    cache.put(cache.ticket(), "gone", Principal(user_id="u9"), expires_in=0)
    assert cache.get("gone") is None
    cache.put(cache.ticket(), "soon", Principal(user_id="u9"), expires_in=0.05)
    assert cache.get("soon") is not None
    await asyncio.sleep(0.1)
    assert cache.get("soon") is None


async def test_an_api_key_entry_never_outlives_the_key(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    user_id = await make_user()
    cache = PrincipalCache(None)
    _, key = await create_api_key(pool, user_id, "soon gone", ["catalog:read"])
    await pool.execute("UPDATE api_keys SET expires_at = now() + interval '1 second'")
    assert (await principal_for_api_key(pool, key, cache)).user_id == str(user_id)
    assert cache.hits == 0
    await principal_for_api_key(pool, key, cache)
    assert cache.hits == 1
    await asyncio.sleep(1.2)
    with pytest.raises(Unauthenticated):
        await principal_for_api_key(pool, key, cache)


async def test_the_cache_serves_only_while_its_bus_listens(
    pool: asyncpg.Pool,
    make_user: MakeUser,
    ring: KeyRing,
    caches: tuple[PrincipalCache, PrincipalCache],
) -> None:
    here, _ = caches
    await make_user()
    claims = verify_access_token(ring, (await signed_in(pool, ring)).access_token)
    await principal_for_access_token(pool, claims, here)
    assert len(here)

    # The listener's connection killed: what was announced meanwhile would be lost, so the
    # cache empties and steps aside until the bus listens again.
    await pool.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = 'revenge-bus' AND datname = current_database()"
    )
    await until(lambda: not here.serving)
    assert not len(here)
    await principal_for_access_token(pool, claims, here)
    assert not len(here)  # read, not stored, while off
    await until(lambda: here.serving, seconds=20)
    await principal_for_access_token(pool, claims, here)
    assert len(here)


async def test_a_change_reaches_every_process_over_redis_too(
    pool: asyncpg.Pool, make_user: MakeUser, ring: KeyRing, redis_url: str
) -> None:
    buses: list[EventBus] = [RedisBus(redis_url), RedisBus(redis_url)]
    here, there = (PrincipalCache(bus) for bus in buses)
    here.start()
    there.start()
    try:
        await until(lambda: here.serving and there.serving)
        user_id = await make_user()
        claims = verify_access_token(ring, (await signed_in(pool, ring)).access_token)
        await principal_for_access_token(pool, claims, there)
        await pool.execute("UPDATE users SET is_disabled = true")
        await here.changed(str(user_id))
        await until(lambda: not len(there))
        with pytest.raises(Unauthenticated):
            await principal_for_access_token(pool, claims, there)
    finally:
        for cache in (here, there):
            await cache.close()
        for bus in buses:
            await bus.close()
