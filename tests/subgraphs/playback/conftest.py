"""Running operations through the playback subgraph with a real request context: a real user
and profile, the real authorization service, a stream signer on disk, real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from infra.authz.casbin_engine import CasbinEngine
from infra.authz.principal import Principal
from infra.authz.rego_engine import RegoEngine
from infra.authz.service import AuthorizationService, VisibilityFilter
from infra.bus import InProcessBus
from infra.settings import load_settings
from infra.signing import StreamSigner
from loaders import Loaders
from loaders.context import Context
from loaders.visibility import EVERYTHING
from resolvers.user.accounts import create_user
from subgraphs.playback.schema import schema

Execute = Callable[..., Any]

AUTHZ = AuthorizationService(CasbinEngine(), RegoEngine())
TWO_HOURS_MS = 2 * 60 * 60 * 1000


@dataclass
class Viewer:
    principal: Principal
    user_id: uuid.UUID
    profile_id: uuid.UUID


async def make_viewer(pool: asyncpg.Pool, name: str) -> Viewer:
    async with pool.acquire() as conn:
        user = await create_user(conn, name, "a long enough password 1")
        profile_id = await conn.fetchval("SELECT id FROM profiles WHERE user_id = $1", user["id"])
    principal = Principal(
        user_id=str(user["id"]),
        profile_id=str(profile_id),
        roles=frozenset({"user"}),
        scopes=frozenset({"catalog:*", "playback:*"}),
        auth_method="jwt",
    )
    return Viewer(principal, user["id"], profile_id)


@pytest.fixture
async def viewer(pool: asyncpg.Pool) -> Viewer:
    return await make_viewer(pool, "alice")


@pytest.fixture
def signer(tmp_path: Path) -> StreamSigner:
    return StreamSigner.open(tmp_path / "keys" / "stream-signing.key")


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus()


@pytest.fixture
def context(
    pool: asyncpg.Pool, tmp_path: Path, bus: InProcessBus, signer: StreamSigner, viewer: Viewer
) -> Callable[..., Context]:
    """``context(principal=…, visibility=…, signer=…)``: a fresh context, as the gateway builds
    one per request."""

    def build(
        principal: Principal | None = None,
        visibility: VisibilityFilter = EVERYTHING,
        with_signer: bool = True,
    ) -> Context:
        services: dict[str, Any] = {"authz": AUTHZ}
        if with_signer:
            services["stream_signer"] = signer
        return Context(
            pool=pool,
            loaders=Loaders(pool, visibility),
            bus=bus,
            settings=load_settings({"REVENGE_DATA_DIR": str(tmp_path)}),
            services=services,
            request_id="test-request",
            principal=principal or viewer.principal,
        )

    return build


@pytest.fixture
def execute(context: Callable[..., Context]) -> Execute:
    """``await execute(query, context=…, **variables)`` → the ExecutionResult."""

    async def run(query: str, /, context_value: Context | None = None, **variables: Any) -> Any:
        return await schema.execute(
            query, variable_values=variables, context_value=context_value or context()
        )

    return run


def error_codes(result: Any) -> list[str | None]:
    return [(error.extensions or {}).get("code") for error in result.errors or []]


async def add_library(pool: asyncpg.Pool) -> uuid.UUID:
    library_id: uuid.UUID = await pool.fetchval(
        "INSERT INTO libraries (name, kind, root_paths) VALUES ('L', 'movies', ARRAY['/l']) "
        "RETURNING id"
    )
    return library_id


async def add_item(
    pool: asyncpg.Pool,
    library_id: uuid.UUID,
    title: str,
    *,
    kind: str = "movie",
    series_id: uuid.UUID | None = None,
    season: int | None = None,
    episode: int | None = None,
    rating_rank: int | None = None,
) -> uuid.UUID:
    item_id: uuid.UUID = await pool.fetchval(
        "INSERT INTO media_items (library_id, kind, title, sort_title, series_id, "
        "season_number, episode_number, rating_rank, effective_rating_rank) "
        "VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $7) RETURNING id",
        library_id,
        kind,
        title,
        series_id,
        season,
        episode,
        rating_rank,
    )
    return item_id


async def add_file(
    pool: asyncpg.Pool,
    item_id: uuid.UUID,
    *,
    container: str = "mp4",
    video: str = "h264",
    audio: str = "aac",
    duration_ms: int = TWO_HOURS_MS,
    is_missing: bool = False,
) -> uuid.UUID:
    path = f"/l/{uuid.uuid4()}.{container}"
    file_id: uuid.UUID = await pool.fetchval(
        "INSERT INTO media_files (item_id, library_id, path, raw_path, size, mtime_ns, "
        "container, duration_ms, bitrate, is_missing) "
        "SELECT $1, library_id, $2, $3, 1000, 0, $4, $5, 5000000, $6 FROM media_items "
        "WHERE id = $1 RETURNING id",
        item_id,
        path,
        path.encode(),
        container,
        duration_ms,
        is_missing,
    )
    hevc = video == "hevc"
    await pool.execute(
        "INSERT INTO media_streams (file_id, stream_index, type, codec, profile, level, "
        "bit_depth, width, height, frame_rate) VALUES ($1, 0, 'video', $2, $3, $4, $5, 1920, "
        "1080, 24.0)",
        file_id,
        video,
        "main 10" if hevc else "high",
        153 if hevc else 40,
        10 if hevc else 8,
    )
    await pool.execute(
        "INSERT INTO media_streams (file_id, stream_index, type, codec, channels) "
        "VALUES ($1, 1, 'audio', $2, $3)",
        file_id,
        audio,
        8 if audio == "truehd" else 2,
    )
    return file_id
