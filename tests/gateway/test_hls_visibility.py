"""HLS playlists and segments stop once the title is hidden from the profile that started the
session, as direct play does: a signed URL's lookup is kept for a short window
(``SignedLookups``, shortened here instead of waiting ten seconds), credentials are checked on
every request."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import httpx

from resolvers.catalog.scan_store import refresh_ratings
from tests.gateway.test_app import Running
from tests.gateway.test_hls import START, _lines
from tests.gateway.test_playback import asker, scanned_viewer
from tests.support.media_files import make_video

HIDDEN = {"code": "NOT_FOUND", "message": "no such transcode session"}


async def _until_refused(client: httpx.AsyncClient, url: str) -> None:
    """Ask until the window (0.2 s here) has passed and the URL is refused; at most 10 s."""
    for _ in range(200):
        if (await client.get(url)).status_code != 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} still plays after 10 s")


async def test_hls_refuses_a_title_hidden_after_start_playback(
    app: Running, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    movies = tmp_path / "movies"
    movies.mkdir()
    make_video(movies / "Late Show (2003).avi", seconds=6, width=320, height=240, codec="mpeg4")
    app.app.state.hls_lookups.seconds = 0.2  # the re-check window
    async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
        viewer = await scanned_viewer(client, pool, movies)
        await pool.execute(
            "UPDATE profiles SET max_rating = 'PG', allow_unrated = true FROM users "
            "WHERE users.id = profiles.user_id AND users.name = 'viewer'"
        )
        ask = asker(client, viewer)
        [item] = (await ask("{ items(kinds: [MOVIE]) { nodes { id } } }"))["items"]["nodes"]
        session = (await ask(START, {"id": item["id"]}))["startPlayback"]
        assert session["decision"]["method"] == "TRANSCODE", session
        master_url = session["streamUrl"]
        base, query = master_url.rsplit("/", 1)[0], master_url.split("?", 1)[1]
        master = await client.get(master_url)
        variant = _lines(master.text)[0]
        name = variant.split("/")[0]
        playlist = await client.get(f"{base}/{variant}")
        by_token = await client.get(f"{base}/master.m3u8", headers=viewer)
        assert (master.status_code, playlist.status_code, by_token.status_code) == (200,) * 3

        # The parent rates the title R: above the profile's PG.
        library = await pool.fetchval(
            "UPDATE media_items SET official_rating = 'R', rating_rank = 17 WHERE id = $1 "
            "RETURNING library_id",
            uuid.UUID(item["id"]),
        )
        async with pool.acquire() as conn:
            await refresh_ratings(conn, library)

        await _until_refused(client, master_url)
        answers = [
            await client.get(master_url),
            await client.get(f"{base}/{variant}"),
            await client.get(f"{base}/{name}/seg_00001.ts?{query}"),
            await client.get(f"{base}/master.m3u8", headers=viewer),
            await client.get(f"{base}/{name}/seg_00001.ts", headers=viewer),
        ]

    assert [(answer.status_code, answer.json()) for answer in answers] == [(404, HIDDEN)] * 5


async def test_hls_refuses_a_disabled_user_within_the_window(
    app: Running, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    movies = tmp_path / "movies"
    movies.mkdir()
    make_video(movies / "Early Show (2004).avi", seconds=6, width=320, height=240, codec="mpeg4")
    app.app.state.hls_lookups.seconds = 0.2
    async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
        ask = asker(client, await scanned_viewer(client, pool, movies))
        [item] = (await ask("{ items(kinds: [MOVIE]) { nodes { id } } }"))["items"]["nodes"]
        master_url = (await ask(START, {"id": item["id"]}))["startPlayback"]["streamUrl"]
        assert (await client.get(master_url)).status_code == 200

        await pool.execute("UPDATE users SET is_disabled = true WHERE name = 'viewer'")

        await _until_refused(client, master_url)
        refused = await client.get(master_url)

    assert (refused.status_code, refused.json()) == (
        403,
        {"code": "FORBIDDEN", "message": "the user of this stream URL is disabled or gone"},
    )
