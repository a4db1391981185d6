"""Playback through the whole gateway: a signed-in user starts an item, a real decoder plays the
signed URL, progress becomes a resume position that the catalog's MediaItem carries."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import av
import httpx

from tests.gateway.test_app import Running, gql
from tests.gateway.test_authorization import SIGN_IN
from tests.support.auth import admin_api_key
from tests.support.media_files import make_video


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


async def scanned_viewer(
    client: httpx.AsyncClient, pool: asyncpg.Pool, movies: Path
) -> dict[str, str]:
    """A movie library over ``movies``, scanned by the app's worker, and a signed-in viewer's
    headers."""
    admin = {"x-api-key": await admin_api_key(pool, "owner")}
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
    return {"authorization": f"Bearer {signed_in['data']['signIn']['accessToken']}"}


def asker(client: httpx.AsyncClient, headers: dict[str, str]) -> Any:
    async def ask(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await client.post(
            "/graphql", headers=headers, json={"query": query, "variables": variables or {}}
        )
        body = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    return ask


async def test_start_play_report_and_resume_through_the_gateway(
    app: Running, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    movies = tmp_path / "movies"
    movies.mkdir()
    make_video(movies / "Playtime (1967).mp4", seconds=3)
    async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
        ask = asker(client, await scanned_viewer(client, pool, movies))

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


START = """
mutation ($id: ID!) {
  startPlayback(itemId: $id, deviceProfileName: "chromium") {
    __typename
    ... on PlaybackSession {
      id streamUrl decision { method reasons audioStream targetContainer }
      subtitles { index codec language isExternal isText webvttUrl url }
    }
    ... on PlaybackError { code message }
  }
}"""


async def test_a_matroska_film_is_remuxed_with_its_subtitles(
    app: Running, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    movies = tmp_path / "movies"
    movies.mkdir()
    make_video(movies / "Heat (1995).mkv", seconds=3, subtitle=True, subtitle_language="eng")
    sidecar = movies / "Heat (1995).fr.srt"
    sidecar.write_bytes("1\r\n00:00:01,000 --> 00:00:02,500\r\nÀ bientôt\r\n".encode("cp1252"))
    async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
        ask = asker(client, await scanned_viewer(client, pool, movies))
        [item] = (await ask("{ items(kinds: [MOVIE]) { nodes { id } } }"))["items"]["nodes"]

        session = (await ask(START, {"id": item["id"]}))["startPlayback"]

        assert session["__typename"] == "PlaybackSession", session
        assert session["decision"] == {
            "method": "REMUX",
            "reasons": ["CONTAINER_UNSUPPORTED"],
            "audioStream": 1,
            "targetContainer": "mp4",
        }
        assert session["streamUrl"].startswith("/remux/")
        width, frames = await asyncio.to_thread(decode_from, app.url + session["streamUrl"])
        assert (width, frames) == (320, 5)
        embedded, external = session["subtitles"]
        assert (embedded["codec"], embedded["language"], embedded["isExternal"]) == (
            "subrip",
            "eng",
            False,
        )
        assert embedded["url"] is None
        assert (external["language"], external["isExternal"], external["isText"]) == (
            "fre",
            True,
            True,
        )
        vtt = await client.get(external["webvttUrl"])
        raw = await client.get(external["url"])
        inside = await client.get(embedded["webvttUrl"])
        assert vtt.status_code == 200
        assert vtt.text == "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nÀ bientôt\n"
        assert raw.content == sidecar.read_bytes()
        assert inside.status_code == 200 and inside.text.startswith("WEBVTT\n\n00:00:")
