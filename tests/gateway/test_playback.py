"""Playback through the whole gateway: a signed-in user starts an item, a real decoder plays the
signed URL, progress becomes a resume position that the catalog's MediaItem carries."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import av
import httpx
import pytest

from tests.gateway.test_app import Running, gql, running_app
from tests.gateway.test_authorization import SIGN_IN
from tests.support.auth import admin_api_key
from tests.support.media_files import make_video


@pytest.fixture
def app(pool: asyncpg.Pool, database_url: str, tmp_path: Path) -> Iterator[Running]:
    with running_app(database_url, tmp_path / "data") as running:
        yield running


def decode_from(url: str) -> tuple[int, int]:
    """Open the URL with PyAV, seek to the middle, decode a few frames: (width, frames)."""
    with av.open(url, timeout=10) as container:
        stream = container.streams.video[0]
        assert container.duration is not None
        container.seek(container.duration // 2)
        frames = 0
        width = 0
        for frame in container.decode(stream):
            width = frame.width
            frames += 1
            if frames == 5:
                break
    return width, frames


async def test_start_play_report_and_resume_through_the_gateway(
    app: Running, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    movies = tmp_path / "movies"
    movies.mkdir()
    make_video(movies / "Playtime (1967).mp4", seconds=3)
    admin = {"x-api-key": await admin_api_key(pool, "owner")}
    async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
        created = await client.post(
            "/graphql",
            headers=admin,
            json={
                "query": "mutation ($i: CreateLibraryInput!) { createLibrary(input: $i) "
                "{ ... on CreateLibraryPayload { library { id } } } }",
                "variables": {"i": {"name": "Films", "kind": "MOVIES", "rootPaths": [str(movies)]}},
            },
        )
        library_id = created.json()["data"]["createLibrary"]["library"]["id"]
        await client.post(
            "/graphql",
            headers=admin,
            json={
                "query": "mutation ($id: ID!) { scanLibrary(id: $id) { __typename } }",
                "variables": {"id": library_id},
            },
        )
        async with asyncio.timeout(60):
            while True:  # the app's worker runs the scan; wait for it to finish
                body = (
                    await client.post(
                        "/graphql",
                        headers=admin,
                        json={"query": "{ libraries { latestScan { done } } }"},
                    )
                ).json()
                if body["data"]["libraries"][0]["latestScan"]["done"]:
                    break
                await asyncio.sleep(0.1)
        await client.post(
            "/graphql",
            headers=admin,
            json={
                "query": 'mutation { createUser(input: {name: "viewer", password: '
                '"popcorn-and-tea", roles: [USER]}) { __typename } }'
            },
        )
        signed_in = await gql(client, SIGN_IN, {"name": "viewer", "password": "popcorn-and-tea"})
        viewer = {"authorization": f"Bearer {signed_in['data']['signIn']['accessToken']}"}

        async def ask(query: str, variables: dict | None = None) -> dict:
            response = await client.post(
                "/graphql", headers=viewer, json={"query": query, "variables": variables or {}}
            )
            body = response.json()
            assert "errors" not in body, body
            return body["data"]

        item = (
            await ask("{ items(kinds: [MOVIE]) { nodes { id title userData { positionMs } } } }")
        )["items"]["nodes"][0]
        assert item["title"] == "Playtime"
        assert item["userData"] is None or item["userData"]["positionMs"] == 0
        started = await ask(
            'mutation ($id: ID!) { startPlayback(itemId: $id, deviceProfileName: "chromium") { '
            "__typename ... on PlaybackSession { id streamUrl decision { method reasons } } "
            "... on PlaybackError { code message } } }",
            {"id": item["id"]},
        )
        session = started["startPlayback"]
        assert session["__typename"] == "PlaybackSession", session
        assert session["decision"] == {"method": "DIRECT_PLAY", "reasons": []}
        url = (
            app.url + session["streamUrl"]
            if session["streamUrl"].startswith("/")
            else (session["streamUrl"])
        )
        width, frames = await asyncio.to_thread(decode_from, url)
        assert (width, frames) == (320, 5)

        progress = await ask(
            "mutation ($s: ID!) { reportProgress(sessionId: $s, positionMs: 1500, "
            "isPaused: false) { __typename } }",
            {"s": session["id"]},
        )
        assert progress["reportProgress"]["__typename"] == "PlaybackProgress"
        again = await ask(
            "query ($id: ID!) { item(id: $id) { title userData { positionMs isPlayed } } }",
            {"id": item["id"]},
        )
        # A 3-second film is all "final five minutes": reaching half of it counts as played,
        # so there is nothing to resume and it leaves continue-watching.
        assert again["item"] == {
            "title": "Playtime",
            "userData": {"positionMs": 0, "isPlayed": True},
        }
        watching = await ask("{ continueWatching { id title } }")
        assert watching["continueWatching"] == []
