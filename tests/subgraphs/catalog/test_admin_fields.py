"""A library's root folders and its scans describe the server, not the catalog: only those who
administer libraries read them, and a file's path on the server; other readers get null, and the
scan subscription refuses them."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from infra.authz.principal import Principal
from infra.authz.service import VisibilityFilter
from infra.bus import InProcessBus
from loaders.visibility import EVERYTHING
from resolvers.catalog.scan_store import refresh_ratings
from subgraphs.catalog.schema import schema
from tests.subgraphs.catalog.conftest import ADMIN, make_context
from tests.subgraphs.catalog.test_visibility import KID, UP_TO_PG
from tests.support.catalog_rows import insert_file, insert_item, insert_library, insert_scan

READER = Principal(
    user_id="00000000-0000-7000-8000-0000000000b1",
    profile_id="00000000-0000-7000-8000-0000000000b2",
    roles=frozenset({"user"}),
    scopes=frozenset({"catalog:read", "playback:read", "playback:write"}),
    auth_method="jwt",
)
# An administrator's account on a kids profile acts as the child, never with the account's roles.
ADMIN_ON_KIDS_PROFILE = Principal(
    user_id=ADMIN.user_id,
    profile_id="00000000-0000-7000-8000-0000000000a2",
    roles=ADMIN.roles,
    scopes=ADMIN.scopes,
    auth_method="jwt",
    is_kids=True,
    max_rating="PG",
)

NOT_ADMINS = pytest.mark.parametrize(
    ("principal", "visibility"),
    [(KID, UP_TO_PG), (ADMIN_ON_KIDS_PROFILE, UP_TO_PG), (READER, EVERYTHING)],
    ids=["kid", "admin-on-kids-profile", "reader"],
)

LIBRARY = """query($id: ID!) { library(id: $id) {
  name itemCount rootPaths latestScan { filesSeen currentPath } } }"""
LIBRARIES = "{ libraries { name rootPaths latestScan { status filesSeen currentPath } } }"
SUBSCRIPTION = "subscription($id: ID!) { libraryScan(libraryId: $id) { filesSeen currentPath } }"


async def _adult_only_library(pool: asyncpg.Pool) -> object:
    library = await insert_library(pool, name="Late", root_paths=["/srv/late"])
    await insert_item(pool, library, "Heat", rating_rank=17)
    async with pool.acquire() as conn:
        await refresh_ratings(conn, library)
    await insert_scan(pool, library, "running", files_seen=1, current_path="/srv/late/Heat.mkv")
    return library


@NOT_ADMINS
async def test_readers_get_null_root_paths_and_latest_scan(
    pool: asyncpg.Pool, tmp_path: Path, principal: Principal, visibility: VisibilityFilter
) -> None:
    library = await _adult_only_library(pool)

    one = await schema.execute(
        LIBRARY,
        variable_values={"id": str(library)},
        context_value=make_context(pool, tmp_path, principal=principal, visibility=visibility),
    )
    listed = await schema.execute(
        LIBRARIES,
        context_value=make_context(pool, tmp_path, principal=principal, visibility=visibility),
    )

    assert one.errors is None
    assert one.data["library"]["rootPaths"] is None
    assert one.data["library"]["latestScan"] is None
    assert listed.errors is None
    assert listed.data == {"libraries": [{"name": "Late", "rootPaths": None, "latestScan": None}]}


async def test_an_administrator_reads_root_paths_and_latest_scan(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    library = await _adult_only_library(pool)

    one = await schema.execute(
        LIBRARY, variable_values={"id": str(library)}, context_value=make_context(pool, tmp_path)
    )

    assert one.errors is None
    assert one.data == {
        "library": {
            "name": "Late",
            "itemCount": 1,
            "rootPaths": ["/srv/late"],
            "latestScan": {"filesSeen": 1, "currentPath": "/srv/late/Heat.mkv"},
        }
    }


@NOT_ADMINS
async def test_readers_cannot_follow_a_scan(
    pool: asyncpg.Pool, tmp_path: Path, principal: Principal, visibility: VisibilityFilter
) -> None:
    library = await _adult_only_library(pool)
    bus = InProcessBus()

    stream = await schema.subscribe(
        SUBSCRIPTION,
        variable_values={"id": str(library)},
        context_value=make_context(
            pool, tmp_path, bus=bus, principal=principal, visibility=visibility
        ),
    )
    results = [r async for r in stream] if hasattr(stream, "__aiter__") else [stream]

    assert [r.data for r in results] == [None]
    assert [(e.extensions or {}).get("code") for r in results for e in r.errors or []] == [
        "FORBIDDEN"
    ]
    assert bus.subscriber_count(f"library_scan:{library}") == 0


FILES = "query($id: ID!) { item(id: $id) { title files { fileName path size } } }"


async def _cartoon_with_a_file(pool: asyncpg.Pool) -> object:
    library = await insert_library(pool, name="Family", root_paths=["/home/ann/films"])
    item = await insert_item(pool, library, "Cartoon", rating_rank=0)
    async with pool.acquire() as conn:
        await refresh_ratings(conn, library)
    await insert_file(pool, item, library, "/home/ann/films/Cartoon (1999).mkv")
    return item


@NOT_ADMINS
async def test_readers_see_a_files_name_but_not_its_path(
    pool: asyncpg.Pool, tmp_path: Path, principal: Principal, visibility: VisibilityFilter
) -> None:
    item = await _cartoon_with_a_file(pool)

    result = await schema.execute(
        FILES,
        variable_values={"id": str(item)},
        context_value=make_context(pool, tmp_path, principal=principal, visibility=visibility),
    )

    assert result.errors is None
    assert result.data == {
        "item": {
            "title": "Cartoon",
            "files": [{"fileName": "Cartoon (1999).mkv", "path": None, "size": 1_000_000}],
        }
    }


async def test_an_administrator_reads_a_files_path(pool: asyncpg.Pool, tmp_path: Path) -> None:
    item = await _cartoon_with_a_file(pool)

    result = await schema.execute(
        FILES, variable_values={"id": str(item)}, context_value=make_context(pool, tmp_path)
    )

    assert result.errors is None
    assert result.data["item"]["files"] == [
        {
            "fileName": "Cartoon (1999).mkv",
            "path": "/home/ann/films/Cartoon (1999).mkv",
            "size": 1_000_000,
        }
    ]
