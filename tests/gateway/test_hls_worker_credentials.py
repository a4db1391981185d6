"""A player that authenticates by header (no signed URL) gets segments a worker process makes:
the gateway checked the caller, so its proxied request must pass the worker's check too."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import httpx

from gateway.worker_app import worker_http_app
from tests.gateway.test_app import Running
from tests.gateway.test_playback import asker, scanned_viewer
from tests.gateway.test_transcode_worker import START, Worker, _lines, app, decoded
from tests.support.media_files import make_video

__all__ = ["app"]  # the fixture: a gateway with no transcoder of its own


async def test_a_header_authenticated_segment_from_a_worker(
    app: Running, pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    movies = tmp_path / "movies"
    movies.mkdir()
    await asyncio.to_thread(
        make_video, movies / "Short Night (1999).avi", seconds=2, codec="mpeg4", audio="mp3"
    )
    worker = await Worker.start(database_url, tmp_path / "data", tmp_path / "worker.log")
    try:
        async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
            headers = await scanned_viewer(client, pool, movies)  # the worker scans
            ask = asker(client, headers)
            [item] = (await ask("{ items(kinds: [MOVIE]) { nodes { id } } }"))["items"]["nodes"]
            session = (await ask(START, {"id": item["id"]}))["startPlayback"]
            assert session["__typename"] == "PlaybackSession", session
            assert session["decision"]["method"] == "TRANSCODE"
            base = session["streamUrl"].split("?", 1)[0].rsplit("/", 1)[0]
            uuid.UUID(session["id"])

            # Given the playlists asked with the viewer's credentials, not the signature
            master = await client.get(f"{base}/master.m3u8", headers=headers)
            assert master.status_code == 200, master.text
            variant_uri = _lines(master.text)[0]
            assert "sig=" not in variant_uri
            variant = variant_uri.split("/")[0]

            # When a segment is asked the same way, made by the worker process
            segment = await client.get(f"{base}/{variant}/seg_00000.ts", headers=headers)

            # Then the gateway relays the worker's segment
            assert segment.status_code == 200, (segment.text, worker.output)
            assert segment.headers["content-type"] == "video/mp2t"
            assert decoded(segment.content)[0] > 0
            assert worker.running()
    finally:
        await worker.kill_group()


async def test_a_worker_answers_an_unsigned_segment_request_401() -> None:
    app = worker_http_app(None, {})  # type: ignore[arg-type]  # refused before any lookup
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
        answer = await client.get(
            f"/internal/hls/{uuid.uuid4()}/240p/seg_00000.ts",
            headers={"Authorization": "Bearer not-for-workers"},
        )
    assert answer.status_code == 401
    assert answer.json()["code"] == "UNAUTHENTICATED"
