"""HLS start and seek as a player sees them: through the real app, from ``startPlayback`` to the
bytes of the first segment.

The app (``create_app``, its in-process worker and transcoder) runs on a fresh embedded
PostgreSQL; the 10-minute 1080p H.264 source of ``bench/transcode.py`` is scanned into a library.
A device profile capped at 720p makes the decision a transcode to 720p. Each round: a new
session (``startPlayback``), then the master playlist, the variant playlist and segment 0, timed
from the mutation to the last byte of the segment; then a seek: the segment at 70 % of the
duration, timed from its request to its last byte. Rounds stop their session, so each starts
from nothing made.

Targets: first segment <= 1.5 s; seek to 70 % <= 1.5 s.

    ./dev bench hls_start [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _support import bench_database_and_url, figure, median, run_like_serve, served
from transcode import make_source

from infra.database import Database
from infra.settings import load_settings
from tests.support.auth import admin_api_key

TARGET_S = 1.5
PROFILE = {
    "name": "720p screen",
    "containers": ["mp4"],
    "videoCodecs": [{"codec": "h264", "maxWidth": 1280, "maxHeight": 720}],
    "audioCodecs": [{"codec": "aac"}],
}
START = """
mutation ($id: ID!, $profile: DeviceProfileInput!) {
  startPlayback(itemId: $id, deviceProfile: $profile, startPositionMs: 0) {
    __typename
    ... on PlaybackSession { id streamUrl decision { method encoder } }
    ... on PlaybackError { code message }
  }
}"""


def _uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


async def _gql(
    client: httpx.AsyncClient, headers: dict[str, str], query: str, **variables: Any
) -> Any:
    body = (
        await client.post(
            "/graphql", headers=headers, json={"query": query, "variables": variables}
        )
    ).json()
    if body.get("errors"):
        raise SystemExit(f"GraphQL failed: {body}")
    return body["data"]


async def _library(client: httpx.AsyncClient, admin: dict[str, str], folder: Path) -> str:
    created = await _gql(
        client,
        admin,
        "mutation ($i: CreateLibraryInput!) { createLibrary(input: $i) "
        "{ ... on CreateLibraryPayload { library { id } } } }",
        i={"name": "Bench", "kind": "MOVIES", "rootPaths": [str(folder)]},
    )
    library_id = created["createLibrary"]["library"]["id"]
    await _gql(
        client, admin, "mutation ($id: ID!) { scanLibrary(id: $id) { __typename } }", id=library_id
    )
    async with asyncio.timeout(300):
        while True:
            found = await _gql(client, admin, "{ libraries { latestScan { done } } }")
            if found["libraries"][0]["latestScan"]["done"]:
                break
            await asyncio.sleep(0.2)
    items = await _gql(client, admin, "{ items(kinds: [MOVIE]) { nodes { id } } }")
    return str(items["items"]["nodes"][0]["id"])


async def _round(
    client: httpx.AsyncClient, admin: dict[str, str], item_id: str
) -> tuple[float, float]:
    started = time.perf_counter()
    session = (await _gql(client, admin, START, id=item_id, profile=PROFILE))["startPlayback"]
    mutation_s = time.perf_counter() - started
    if session["__typename"] != "PlaybackSession" or session["decision"]["method"] != "TRANSCODE":
        raise SystemExit(f"expected a transcode: {session}")
    master = (await client.get(session["streamUrl"])).text
    base = session["streamUrl"].rsplit("/", 1)[0]
    variant = _uris(master)[0]
    folder = f"{base}/{variant.split('/')[0]}"
    segments = _uris((await client.get(f"{base}/{variant}")).text)
    playlists_s = time.perf_counter() - started
    first = await client.get(f"{folder}/{segments[0]}")
    first_s = time.perf_counter() - started
    if first.status_code != 200 or not first.content:
        raise SystemExit(f"segment 0 failed: {first.status_code} {first.text[:200]}")
    seek_started = time.perf_counter()
    far = await client.get(f"{folder}/{segments[int(len(segments) * 0.7)]}")
    seek_s = time.perf_counter() - seek_started
    if far.status_code != 200 or not far.content:
        raise SystemExit(f"the seek failed: {far.status_code} {far.text[:200]}")
    await _gql(
        client,
        admin,
        "mutation ($s: ID!) { stopPlayback(sessionId: $s) { sessionId } }",
        s=session["id"],
    )
    figure("hls_start.round_mutation", mutation_s, "s")
    figure("hls_start.round_playlists_done", playlists_s, "s")
    return first_s, seek_s


async def run(args: argparse.Namespace) -> None:
    source = await asyncio.to_thread(make_source)
    async with bench_database_and_url() as (pool, url):
        database = Database(pool=pool, url=url)
        with tempfile.TemporaryDirectory(prefix="revenge-bench-hls-") as work:
            movies = Path(work) / "movies"
            movies.mkdir()
            # The scanner skips links that leave the library; a hard link is the file itself.
            try:
                os.link(source, movies / source.name)
            except OSError:
                await asyncio.to_thread(shutil.copyfile, source, movies / source.name)
            settings = load_settings(
                {"REVENGE_LOG_LEVEL": "warning", "REVENGE_DATA_DIR": str(Path(work) / "data")}
            )
            async with served(settings, database) as base:
                admin = {"x-api-key": await admin_api_key(pool, "bench-owner")}
                async with httpx.AsyncClient(base_url=base, timeout=120) as client:
                    item_id = await _library(client, admin, movies)
                    results = [await _round(client, admin, item_id) for _ in range(args.rounds)]
    firsts = [first for first, _ in results]
    seeks = [seek for _, seek in results]
    for first, seek in results:
        figure("hls_start.round_first_segment", first, "s")
        figure("hls_start.round_seek_70", seek, "s")
    figure("hls_start.first_segment_median", median(firsts), "s")
    figure("hls_start.seek_70_median", median(seeks), "s")
    print(
        f"summary hls_start rounds={args.rounds} source=1080p24 h264 10 min -> 720p "
        f"first_segment_median={median(firsts):.3f} s seek_70_median={median(seeks):.3f} s "
        f"(targets <= {TARGET_S} s: first {'met' if median(firsts) <= TARGET_S else 'MISSED'}, "
        f"seek {'met' if median(seeks) <= TARGET_S else 'MISSED'})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    run_like_serve(run(parser.parse_args()))


if __name__ == "__main__":
    main()
