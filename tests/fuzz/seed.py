"""What the fuzzed app holds before fuzzing: a library with a movie (a real file) and a series,
another account with a profile, a webhook, an API client and key, a watch party.

Their ids feed the fuzzers' ``ID`` strategy, so fuzzed documents reach past "not a valid id"
into lookups, permissions and mutations on rows that exist. The callers' own users and
sessions are not among them: a fuzzed ``setUserDisabled`` must not sign the fuzzer out.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.support.catalog_rows import insert_file, insert_item, insert_library, insert_stream
from tests.support.media_files import make_video

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def seed_catalog(pool: asyncpg.Pool, media_dir: Path) -> list[str]:
    """A movie library under ``media_dir``; the ids of its library, items and file."""
    movie_path = make_video(media_dir / "Fuzz Movie (2001).mkv", seconds=0.5)
    async with pool.acquire() as conn:
        library = await insert_library(conn, "Fuzz Movies", "movies", [str(media_dir)])
        movie = await insert_item(conn, library, "Fuzz Movie", "movie", year=2001)
        file_id = await insert_file(
            conn, movie, library, str(movie_path), size=movie_path.stat().st_size,
            container="matroska", duration_ms=500,
        )  # fmt: skip
        await insert_stream(conn, file_id, 0, "video", codec="h264", width=320, height=240)
        await insert_stream(conn, file_id, 1, "audio", codec="aac", channels=2, language="eng")
        series = await insert_item(conn, library, "Fuzz Series", "series")
        episode = await insert_item(
            conn, library, "Pilot", "episode", parent_id=series, series_id=series,
            season_number=1, episode_number=1,
        )  # fmt: skip
        await conn.execute("SELECT revenge_refresh_search(array_agg(id)) FROM media_items")
    return [str(row) for row in (library, movie, file_id, series, episode)]


async def _mutate(client: httpx.AsyncClient, admin: dict[str, str], query: str, **args: Any) -> Any:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": args},
        headers={"accept": GRAPHQL_RESPONSE, **admin},
    )
    body = response.json()
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


async def seed_accounts(
    client: httpx.AsyncClient, admin: dict[str, str], movie_id: str
) -> list[str]:
    """Rows the administrator makes over GraphQL; their ids."""
    user = await _mutate(
        client,
        admin,
        "mutation ($n: String!) { createUser(input: {name: $n, password: "
        '"correct horse battery"}) { ... on CreateUserPayload { user { id } } } }',
        n=f"fuzz-other-{uuid.uuid4().hex[:6]}",
    )
    profile = await _mutate(
        client,
        admin,
        'mutation { createProfile(input: {name: "Fuzz Guest"}) '
        "{ ... on ProfilePayload { profile { id } } } }",
    )
    webhook = await _mutate(
        client,
        admin,
        'mutation { createWebhook(input: {name: "fuzz", url: "http://127.0.0.1:9/hook", '
        'eventTypes: ["user.created"]}) { ... on WebhookSecretPayload { webhook { id } } } }',
    )
    api_client = await _mutate(
        client,
        admin,
        'mutation { createApiClient(name: "fuzz-app") '
        "{ ... on ApiClientPayload { client { id } } } }",
    )
    api_key = await _mutate(
        client,
        admin,
        'mutation { createApiKey(name: "fuzz", scopes: ["catalog:read"]) '
        "{ ... on CreateApiKeyPayload { apiKey { id } } } }",
    )
    party = await _mutate(
        client,
        admin,
        "mutation ($i: ID!) { createWatchParty(itemId: $i) { id } }",
        i=movie_id,
    )
    return [
        user["user"]["id"],
        profile["profile"]["id"],
        webhook["webhook"]["id"],
        api_client["client"]["id"],
        api_key["apiKey"]["id"],
        party["id"],
    ]
