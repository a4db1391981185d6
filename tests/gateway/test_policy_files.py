"""The Rego policies decide what a kids profile sees in the running app: an operator's edited
copy of ``policies/`` (``REVENGE_POLICIES_DIR``, or an OPA server holding it) changes the item
set with no Python change."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from infra.authz.rego_engine import POLICIES_DIR, RegoEngine
from resolvers.catalog.scan_store import refresh_ratings
from tests.gateway.test_app import Running, gql, running_app
from tests.gateway.test_authorization import SIGN_IN, item
from tests.support.auth import admin_api_key
from tests.support.opa import opa_shaped_server

TITLES = "query { items(kinds: [MOVIE]) { totalCount nodes { title } } }"


async def kids_household(pool: asyncpg.Pool) -> uuid.UUID:
    """G, TV-Y7 and PG films (ranks as the scanner stores them) in one library."""
    library: uuid.UUID = await pool.fetchval(
        "INSERT INTO libraries (name, kind, root_paths) VALUES ('Family', 'movies', "
        "ARRAY['/srv']) RETURNING id"
    )
    for title, rating, rank in (("Bambi", "G", 0), ("Bluey", "TV-Y7", 7), ("Paddington", "PG", 10)):
        await item(pool, library, "movie", title, official_rating=rating, rating_rank=rank)
    async with pool.acquire() as conn:
        await refresh_ratings(conn, library)
    return library


async def kids_titles(running: Running, pool: asyncpg.Pool, library: uuid.UUID) -> list[str]:
    """Make a kids profile limited to PG with the library granted, sign in, list the films."""
    admin = {"x-api-key": await admin_api_key(pool)}
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
        created = await client.post(
            "/graphql",
            headers=admin,
            json={"query": 'mutation { createUser(input: {name: "kid", password: '
                  '"crayons-and-glue", roles: [KIDS]}) { __typename } }'},
        )  # fmt: skip
        assert created.json()["data"]["createUser"]["__typename"] == "CreateUserPayload"
        profile = await pool.fetchval(
            "UPDATE profiles SET is_kids = true, max_rating = 'PG', allow_unrated = false "
            "FROM users WHERE users.id = profiles.user_id AND users.name = 'kid' "
            "RETURNING profiles.id"
        )
        async with pool.acquire() as conn:
            await running.app.state.services["authz"].casbin.add_grant(
                conn, f"profile:{profile}", str(library)
            )
        signed_in = await gql(client, SIGN_IN, {"name": "kid", "password": "crayons-and-glue"})
        token = signed_in["data"]["signIn"]["accessToken"]
        page = await client.post(
            "/graphql", headers={"authorization": f"Bearer {token}"}, json={"query": TITLES}
        )
        body: Any = page.json()
        assert "errors" not in body, body
        titles = [node["title"] for node in body["data"]["items"]["nodes"]]
        assert body["data"]["items"]["totalCount"] == len(titles)
        return titles


@contextmanager
def edited_policies(tmp_path: Path) -> Iterator[Path]:
    """A copy of policies/ whose kids limit is lowered from PG-13 to TV-Y7."""
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, folder)
    catalog = folder / "catalog.rego"
    source = catalog.read_text(encoding="utf-8")
    assert 'kids_max_rating := "PG-13"' in source
    catalog.write_text(
        source.replace('kids_max_rating := "PG-13"', 'kids_max_rating := "TV-Y7"'),
        encoding="utf-8",
    )
    yield folder


async def test_the_shipped_policies_show_a_pg_kids_profile_its_pg_films(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    library = await kids_household(pool)
    with running_app(database_url, tmp_path / "data") as running:
        titles = await kids_titles(running, pool, library)

    assert titles == ["Bambi", "Bluey", "Paddington"]


async def test_an_edited_policies_dir_changes_what_the_kids_profile_sees(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    library = await kids_household(pool)
    with (
        edited_policies(tmp_path) as folder,
        running_app(database_url, tmp_path / "data", REVENGE_POLICIES_DIR=str(folder)) as running,
    ):
        titles = await kids_titles(running, pool, library)

    assert titles == ["Bambi", "Bluey"]


async def test_an_opa_server_holding_the_edited_policies_decides_the_same(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    library = await kids_household(pool)
    with (
        edited_policies(tmp_path) as folder,
        opa_shaped_server(RegoEngine(folder)) as (url, seen),
        running_app(database_url, tmp_path / "data", REVENGE_OPA_URL=url) as running,
    ):
        titles = await kids_titles(running, pool, library)

    assert titles == ["Bambi", "Bluey"]
    asked = [body["input"] for path, body in seen if path == "revenge/catalog/visibility"]
    assert asked[-1]["profile"]["is_kids"] is True  # the kids profile's view came from "OPA"
