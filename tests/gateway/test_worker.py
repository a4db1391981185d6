"""The many-process shape: a gateway that runs no scans, a `revenge worker`, Redis between.

The gateway queues the scan; the worker process takes it from PostgreSQL; its progress reaches
a graphql-ws subscriber on the gateway through Redis pub/sub.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as redis

from resolvers.user.accounts import create_user
from resolvers.user.api_keys import create_api_key
from tests.gateway.test_app import REVENGE_ENV_CLEAN, gql, running_app, watch_scan
from tests.gateway.test_cli import REVENGE
from tests.support.auth import admin_api_key
from tests.support.media_files import make_video


async def subscribed(redis_url: str, channel: str) -> None:
    client = redis.from_url(redis_url)
    try:
        async with asyncio.timeout(20):
            while not (await client.pubsub_numsub(channel))[0][1]:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    finally:
        await client.aclose()


async def test_a_worker_process_runs_the_scan_a_gateway_queued(
    pool: asyncpg.Pool, database_url: str, redis_url: str, tmp_path: Path, node_modules: Path
) -> None:
    movies = tmp_path / "movies"
    movies.mkdir()
    for n in range(3):
        make_video(movies / f"Film {n} (200{n}).mkv", seconds=0.3)
    worker = await asyncio.create_subprocess_exec(
        REVENGE,
        "worker",
        env={
            **REVENGE_ENV_CLEAN(),
            "REVENGE_DATABASE_URL": database_url,
            "REVENGE_CACHE_URL": redis_url,
            "REVENGE_DATA_DIR": str(tmp_path / "worker"),
            "REVENGE_PROBE_WORKERS": "1",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        with running_app(
            database_url,
            tmp_path / "gateway",
            REVENGE_CACHE_URL=redis_url,
            REVENGE_WORKER_IN_PROCESS="false",
        ) as app:
            key = await admin_api_key(pool)
            async with httpx.AsyncClient(
                base_url=app.url, timeout=30, headers={"x-api-key": key}
            ) as client:
                created = await gql(
                    client,
                    "mutation ($input: CreateLibraryInput!) { createLibrary(input: $input) { "
                    "... on CreateLibraryPayload { library { id } } } }",
                    {"input": {"name": "Films", "kind": "MOVIES", "rootPaths": [str(movies)]}},
                )
                library_id = created["data"]["createLibrary"]["library"]["id"]
                watcher = asyncio.create_task(watch_scan(app.url, library_id, key))
                await subscribed(redis_url, f"revenge:library_scan:{library_id}")
                await gql(
                    client,
                    "mutation ($id: ID!) { scanLibrary(id: $id) { __typename } }",
                    {"id": library_id},
                )
                watched = await watcher
                events = [e["data"]["libraryScan"] for e in watched["events"]]
                assert events[-1]["status"] == "COMPLETED"
                assert events[-1]["filesNew"] == 3
                items = await gql(client, "{ items(first: 10) { totalCount nodes { title } } }")
                assert items["data"]["items"]["totalCount"] == 3
        worker_id = await pool.fetchval(
            "SELECT count(*) FROM library_scans WHERE status = 'completed'"
        )
        assert worker_id == 1
    finally:
        worker.send_signal(signal.SIGTERM)
        output = (await asyncio.wait_for(worker.communicate(), 30))[0].decode()
    assert worker.returncode == 0, output
    assert "worker started" in output


async def test_a_grant_made_on_one_replica_holds_on_another(
    pool: asyncpg.Pool, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    library = await pool.fetchval(
        "INSERT INTO libraries (name, kind, root_paths) VALUES ('Shared', 'movies', "
        "ARRAY['/srv']) RETURNING id"
    )
    admin = {"x-api-key": await admin_api_key(pool)}
    guest = await create_guest(pool)
    _, guest_key = await create_api_key(pool, guest, "guest tv", ["catalog:read"])
    settings = {"REVENGE_CACHE_URL": redis_url}
    with (
        running_app(database_url, tmp_path / "a", **settings) as replica_a,
        running_app(database_url, tmp_path / "b", **settings) as replica_b,
    ):
        async with httpx.AsyncClient(timeout=30) as client:

            async def guest_sees_on_b() -> list[str]:
                response = await client.post(
                    replica_b.url + "/graphql",
                    headers={"x-api-key": guest_key},
                    json={"query": "{ libraries { name } }"},
                )
                return [row["name"] for row in response.json()["data"]["libraries"]]

            assert await guest_sees_on_b() == []
            await subscribed(redis_url, "revenge:authz:rules_changed")
            granted = await client.post(
                replica_a.url + "/graphql",
                headers=admin,
                json={
                    "query": "mutation ($l: ID!, $u: ID!) { grantLibraryAccess(libraryId: $l, "
                    "userId: $u) { __typename } }",
                    "variables": {"l": str(library), "u": str(guest)},
                },
            )
            assert granted.json()["data"]["grantLibraryAccess"]["__typename"] == (
                "LibraryAccessPayload"
            )
            async with asyncio.timeout(10):
                while await guest_sees_on_b() != ["Shared"]:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)


async def create_guest(pool: asyncpg.Pool) -> uuid.UUID:
    async with pool.acquire() as conn:
        row = await create_user(conn, "guest", "just-visiting", ("guest",))
    guest_id: uuid.UUID = row["id"]
    return guest_id
