from __future__ import annotations

import asyncio

import asyncpg

from infra.migrations import load_migrations, migrate_down, migrate_status, migrate_up


async def test_every_migration_goes_down_and_up_again(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate_up(conn)
        migrations = load_migrations()
        reverted = await migrate_down(conn, steps=len(migrations))
        assert reverted == [m.version for m in reversed(migrations)]
        assert await conn.fetchval("SELECT to_regclass('media_items')") is None
        assert all(not s.applied for s in await migrate_status(conn))
        applied = await migrate_up(conn)
        assert applied == [m.version for m in migrations]
        assert all(s.applied for s in await migrate_status(conn))
    finally:
        await conn.close()


async def test_two_processes_migrating_together_do_not_race(database_url: str) -> None:
    conns = [await asyncpg.connect(database_url) for _ in range(2)]
    try:
        await migrate_down(conns[0], steps=len(load_migrations()))
        results = await asyncio.gather(*(migrate_up(c) for c in conns))
        applied = sorted(results, key=len)
        assert applied[0] == []
        assert applied[1] == [m.version for m in load_migrations()]
        version = await conns[0].fetchval("SELECT version FROM schema_migrations")
        assert version == load_migrations()[-1].version
    finally:
        for conn in conns:
            await conn.close()


async def test_uuid_v7_ids_are_time_ordered(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        ids = [await conn.fetchval("SELECT revenge_uuid_v7()") for _ in range(5)]
    assert all(i.version == 7 for i in ids)
    assert [i.bytes[:6] for i in ids] == sorted(i.bytes[:6] for i in ids)
