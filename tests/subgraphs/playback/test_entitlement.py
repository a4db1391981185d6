"""startPlayback asks entitlement.rego for the item's library: the hook billing fills in."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import asyncpg

from infra.authz.casbin_engine import CasbinEngine
from infra.authz.rego_engine import POLICIES_DIR, RegoEngine
from infra.authz.service import AuthorizationService
from tests.subgraphs.playback.conftest import Execute, add_file, add_item, add_library
from tests.subgraphs.playback.test_sessions import START


def policies_where(tmp_path: Path, allow: str) -> RegoEngine:
    """The shipped policies, with entitlement.rego's ``default allow := true`` replaced."""
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, folder)
    path = folder / "entitlement.rego"
    source = path.read_text(encoding="utf-8")
    assert "default allow := true" in source
    path.write_text(source.replace("default allow := true", allow), encoding="utf-8")
    return RegoEngine(folder)


async def start_with(
    execute: Execute, context: Any, policies: RegoEngine, item: object
) -> dict[str, Any]:
    built = context()
    built.services["authz"] = AuthorizationService(CasbinEngine(), policies)
    result = await execute(START, context_value=built, item=str(item))
    assert result.errors is None
    started: dict[str, Any] = result.data["startPlayback"]
    return started


async def test_the_entitlement_policy_decides_per_library(
    pool: asyncpg.Pool, execute: Execute, context: Any, tmp_path: Path
) -> None:
    paid = await add_library(pool)
    free = await pool.fetchval(
        "INSERT INTO libraries (name, kind, root_paths) VALUES ('Free', 'movies', ARRAY['/f']) "
        "RETURNING id"
    )
    premium = await add_item(pool, paid, "Premium")
    everyday = await add_item(pool, free, "Everyday")
    await add_file(pool, premium)
    await add_file(pool, everyday)
    only_free = policies_where(
        tmp_path,
        f'default allow := true\n\nallow := false if input.resource.library_id == "{paid}"',
    )

    refused = await start_with(execute, context, only_free, premium)
    allowed = await start_with(execute, context, only_free, everyday)
    shipped = await start_with(execute, context, RegoEngine(), premium)

    assert refused == {
        "__typename": "PlaybackError",
        "code": "NOT_ENTITLED",
        "message": "this account may not play this item",
    }
    assert allowed["__typename"] == "PlaybackSession"
    assert shipped["__typename"] == "PlaybackSession"
