"""Subtitles over HTTP: the real app under uvicorn, real PostgreSQL, a real Matroska file with two
text tracks, sidecars beside it, and the same access rules as ``/stream/{fileId}``."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from gateway.media_routes import stream_signer, stream_url
from gateway.subtitle_routes import WebvttCache
from resolvers.catalog.subtitle_files import subtitle_path
from resolvers.user.accounts import create_user
from resolvers.user.api_keys import create_api_key
from tests.gateway.test_app import Running
from tests.media.test_subtitles import ASS, ASS_WEBVTT, SRT_WEBVTT, make_subtitled_video
from tests.support.auth import admin_api_key
from tests.support.catalog_rows import insert_file, insert_item, insert_library, insert_stream

LEGACY_SRT = "1\r\n00:00:02,000 --> 00:00:03,500\r\n\u00c7a co\u00fbte 5 \u20ac\r\n".encode(
    "cp1252"
)
LEGACY_WEBVTT = "WEBVTT\n\n00:00:02.000 --> 00:00:03.500\n\u00c7a co\u00fbte 5 \u20ac\n"


@dataclass
class Film:
    file_id: uuid.UUID
    library_id: uuid.UUID
    srt: Path
    ass: Path
    key: str
    user_id: str


@pytest.fixture
async def film(app: Running, pool: asyncpg.Pool, tmp_path: Path) -> Film:
    media = tmp_path / "media"
    media.mkdir()
    path = make_subtitled_video(media / "Heat (1995).mkv")
    srt = media / "Heat (1995).fr.srt"
    srt.write_bytes(LEGACY_SRT)
    ass = media / "Heat (1995).en.ass"
    ass.write_text(ASS, encoding="utf-8")
    corrupt = media / "Heat (1995).de.srt"
    corrupt.write_bytes(b"\x00\x01garbage" * 100)
    library = await insert_library(pool, root_paths=[str(media)])
    item = await insert_item(pool, library, "Heat")
    file_id = await insert_file(pool, item, library, str(path), container="mkv")
    await insert_stream(pool, file_id, 0, "video", codec="h264")
    await insert_stream(pool, file_id, 1, "subtitle", codec="subrip", language="eng")
    await insert_stream(pool, file_id, 2, "subtitle", codec="ass", language="eng")
    await insert_stream(pool, file_id, 3, "subtitle", codec="hdmv_pgs_subtitle")
    for index, sidecar, codec in (
        (1000, srt, "subrip"),
        (1001, ass, "ass"),
        (1002, corrupt, "subrip"),
    ):
        await insert_stream(
            pool,
            file_id,
            index,
            "subtitle",
            codec=codec,
            is_external=True,
            external_path=str(sidecar),
        )
    key = await admin_api_key(pool, "owner")
    user_id = str(await pool.fetchval("SELECT id FROM users WHERE name = 'owner'"))
    return Film(file_id, library, srt, ass, key, user_id)


def client(app: Running, film: Film | None = None) -> httpx.AsyncClient:
    headers = {"x-api-key": film.key} if film else {}
    return httpx.AsyncClient(base_url=app.url, timeout=30, headers=headers)


async def test_webvtt_of_embedded_and_sidecar_tracks(app: Running, film: Film) -> None:
    async with client(app, film) as http:
        responses = {
            index: await http.get(f"/subtitles/{film.file_id}/{index}.vtt")
            for index in (1, 2, 1000, 1001)
        }
        head = await http.head(f"/subtitles/{film.file_id}/1.vtt")
    assert {index: r.status_code for index, r in responses.items()} == {
        1: 200,
        2: 200,
        1000: 200,
        1001: 200,
    }
    assert responses[1].text == SRT_WEBVTT
    assert responses[2].text == ASS_WEBVTT
    assert responses[1000].text == LEGACY_WEBVTT
    assert responses[1001].text == ASS_WEBVTT
    assert responses[1].headers["content-type"] == "text/vtt; charset=utf-8"
    assert responses[1].headers["cache-control"] == "private"
    assert (head.status_code, head.content) == (200, b"")


async def test_a_sidecar_as_it_is(app: Running, film: Film) -> None:
    async with client(app, film) as http:
        srt = await http.get(f"/subtitles/{film.file_id}/1000")
        ass = await http.get(f"/subtitles/{film.file_id}/1001")
        embedded = await http.get(f"/subtitles/{film.file_id}/1")
    assert (srt.status_code, srt.content) == (200, LEGACY_SRT)
    assert srt.headers["content-type"] == "application/x-subrip"
    assert (ass.status_code, ass.content) == (200, film.ass.read_bytes())
    assert ass.headers["content-type"] == "text/x-ssa"
    assert embedded.status_code == 404
    assert embedded.json()["code"] == "NOT_FOUND"


async def test_signed_urls_of_the_file_open_its_subtitles(
    app: Running, film: Film, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    signer = stream_signer(app.app)
    expires = int(time.time()) + 600
    other_item = await insert_item(pool, film.library_id, "Alien")
    other_file = await insert_file(pool, other_item, film.library_id, str(tmp_path / "alien.mkv"))
    stream_query = stream_url(film.file_id, film.user_id, signer).split("?", 1)[1]
    other_query = stream_url(other_file, film.user_id, signer).split("?", 1)[1]
    async with client(app) as http:
        vtt = await http.get(
            subtitle_path(signer, film.file_id, 1000, film.user_id, expires, webvtt=True)
        )
        raw = await http.get(
            subtitle_path(signer, film.file_id, 1000, film.user_id, expires, webvtt=False)
        )
        by_stream_query = await http.get(f"/subtitles/{film.file_id}/1.vtt?{stream_query}")
        other = await http.get(f"/subtitles/{film.file_id}/1.vtt?{other_query}")
        anonymous = await http.get(f"/subtitles/{film.file_id}/1.vtt")
    assert (vtt.status_code, vtt.text) == (200, LEGACY_WEBVTT)
    assert (raw.status_code, raw.content) == (200, LEGACY_SRT)
    assert (by_stream_query.status_code, by_stream_query.text) == (200, SRT_WEBVTT)
    assert other.status_code == 403
    assert other.json() == {"code": "FORBIDDEN", "message": "Invalid or expired stream signature"}
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "UNAUTHENTICATED"


async def test_a_hidden_item_answers_not_found(
    app: Running, film: Film, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        kid = await create_user(conn, "kid", "crayons-and-glue", ("kids",))
    _, kid_key = await create_api_key(pool, kid["id"], "tablet", ("catalog:read",))
    signed = subtitle_path(
        stream_signer(app.app), film.file_id, 1, str(kid["id"]), int(time.time()) + 60, webvtt=True
    )
    async with client(app) as http:
        by_key = await http.get(f"/subtitles/{film.file_id}/1.vtt", headers={"x-api-key": kid_key})
        by_signature = await http.get(signed)
    assert by_key.status_code == by_signature.status_code == 404
    assert by_key.json() == {"code": "NOT_FOUND", "message": "file not found"}


async def test_problems(app: Running, film: Film) -> None:
    async with client(app, film) as http:

        async def answer(path: str) -> tuple[int, str]:
            response = await http.get(path)
            return response.status_code, response.json()["code"]

        base = f"/subtitles/{film.file_id}"
        assert await answer(f"{base}/7.vtt") == (404, "NOT_FOUND")
        assert await answer(f"{base}/0.vtt") == (404, "NOT_FOUND")  # the video stream
        assert await answer(f"/subtitles/{uuid.uuid4()}/1.vtt") == (404, "NOT_FOUND")
        for bad in ("-1.vtt", "x.vtt", "99999999999.vtt", "1.5", "\u0661.vtt"):
            assert await answer(f"{base}/{bad}") == (400, "BAD_USER_INPUT"), bad
        assert await answer("/subtitles/not-a-uuid/1.vtt") == (400, "BAD_USER_INPUT")
        assert await answer(f"{base}/3.vtt") == (415, "NOT_TEXT_SUBTITLE")
        assert await answer(f"{base}/1002.vtt") == (422, "UNREADABLE_SUBTITLE")
        film.srt.unlink()
        assert await answer(f"{base}/1000.vtt") == (404, "NOT_FOUND")
        assert await answer(f"{base}/1000") == (404, "NOT_FOUND")


async def test_the_cache_serves_repeated_requests(app: Running, film: Film) -> None:
    async with client(app, film) as http:
        first = await http.get(f"/subtitles/{film.file_id}/1.vtt")
        second = await http.get(f"/subtitles/{film.file_id}/1.vtt")
        cache: WebvttCache = app.app.state.webvtt_cache
        assert first.text == second.text == SRT_WEBVTT
        assert cache.extractions == 1
        assert cache.size == len(SRT_WEBVTT.encode())

        await http.get(f"/subtitles/{film.file_id}/1000.vtt")
        stat = film.srt.stat()
        film.srt.write_bytes(LEGACY_SRT.replace(b"5 ", b"6 "))
        os.utime(film.srt, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        edited = await http.get(f"/subtitles/{film.file_id}/1000.vtt")
        assert edited.text == LEGACY_WEBVTT.replace("5 ", "6 ")  # an edited sidecar is re-read
        assert cache.extractions == 3
