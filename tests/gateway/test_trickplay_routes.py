"""Trickplay over HTTP: the real app under uvicorn, real PostgreSQL, sheets made from a real file,
the stream route's access rules, and an index whose sheet URIs work for a player holding only the
signed URL."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from gateway.media_routes import stream_signer, stream_url
from resolvers.catalog.trickplay import generate_trickplay, trickplay_dir
from resolvers.user.accounts import create_user
from resolvers.user.api_keys import create_api_key
from tests.gateway.test_app import Running
from tests.support.auth import admin_api_key
from tests.support.catalog_rows import insert_file, insert_item, insert_library, insert_stream
from tests.support.media_files import make_video

SHEET_URI = re.compile(r"^(sheet_\d{3}\.jpg)(\?[^#\s]*)?#xywh=(\d+,\d+,\d+,\d+)$", re.M)


@dataclass
class Film:
    file_id: uuid.UUID
    library_id: uuid.UUID
    data_dir: Path
    key: str
    user_id: str


@pytest.fixture
async def film(app: Running, pool: asyncpg.Pool, tmp_path: Path) -> Film:
    (tmp_path / "media").mkdir()
    path = make_video(tmp_path / "media" / "Heat (1995).mkv", seconds=25, fps=25)
    library = await insert_library(pool, root_paths=[str(path.parent)])
    item = await insert_item(pool, library, "Heat")
    file_id = await insert_file(pool, item, library, str(path), container="mkv")
    await insert_stream(pool, file_id, 0, "video", codec="h264")
    key = await admin_api_key(pool, "owner")
    user_id = str(await pool.fetchval("SELECT id FROM users WHERE name = 'owner'"))
    return Film(file_id, library, tmp_path / "data", key, user_id)


async def generated(pool: asyncpg.Pool, film: Film) -> Film:
    info = await generate_trickplay(pool, film.data_dir, film.file_id)
    assert info is not None and info.thumbnail_count == 3
    return film


def client(app: Running, film: Film | None = None) -> httpx.AsyncClient:
    headers = {"x-api-key": film.key} if film else {}
    return httpx.AsyncClient(base_url=app.url, timeout=30, headers=headers)


def signed_query(app: Running, file_id: uuid.UUID, user_id: str) -> str:
    return stream_url(file_id, user_id, stream_signer(app.app)).split("?", 1)[1]


async def test_before_generation_nothing_is_found(app: Running, film: Film) -> None:
    async with client(app, film) as http:
        index = await http.get(f"/trickplay/{film.file_id}/index.vtt")
        sheet = await http.get(f"/trickplay/{film.file_id}/sheet_000.jpg")
    expected = {"code": "NOT_FOUND", "message": "no trickplay for this file yet"}
    assert (index.status_code, index.json()) == (404, expected)
    assert (sheet.status_code, sheet.json()) == (404, expected)


async def test_signed_index_points_at_signed_sheets_that_load(
    app: Running, film: Film, pool: asyncpg.Pool
) -> None:
    await generated(pool, film)
    query = signed_query(app, film.file_id, film.user_id)
    index_url = f"{app.url}/trickplay/{film.file_id}/index.vtt?{query}"
    async with client(app) as http:  # no credentials: the signature is all a player has
        index = await http.get(index_url)
        uris = SHEET_URI.findall(index.text)
        sheets = [await http.get(httpx.URL(index_url).join(name + q)) for name, q, _ in uris]

    assert index.status_code == 200
    assert index.headers["content-type"] == "text/vtt; charset=utf-8"
    assert index.headers["cache-control"] == "private"
    assert index.text.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:10.000\n")
    assert [(name, q, xywh) for name, q, xywh in uris] == [
        ("sheet_000.jpg", f"?{query}", "0,0,320,240"),
        ("sheet_000.jpg", f"?{query}", "320,0,320,240"),
        ("sheet_000.jpg", f"?{query}", "640,0,320,240"),
    ]
    on_disk = (trickplay_dir(film.data_dir, film.file_id) / "sheet_000.jpg").read_bytes()
    assert [(s.status_code, s.headers["content-type"]) for s in sheets] == [(200, "image/jpeg")] * 3
    assert all(s.content == on_disk for s in sheets)


async def test_credentials_get_the_index_as_written(
    app: Running, film: Film, pool: asyncpg.Pool
) -> None:
    await generated(pool, film)
    async with client(app, film) as http:
        index = await http.get(f"/trickplay/{film.file_id}/index.vtt")
        sheet = await http.get(f"/trickplay/{film.file_id}/sheet_000.jpg")
        head = await http.head(f"/trickplay/{film.file_id}/sheet_000.jpg")
    on_disk = (trickplay_dir(film.data_dir, film.file_id) / "index.vtt").read_text()
    assert (index.status_code, index.text) == (200, on_disk)
    assert (sheet.status_code, sheet.content[:2]) == (200, b"\xff\xd8")
    assert (head.status_code, head.content) == (200, b"")


async def test_a_hidden_file_answers_not_found(
    app: Running, film: Film, pool: asyncpg.Pool
) -> None:
    await generated(pool, film)
    async with pool.acquire() as conn:
        kid = await create_user(conn, "kid", "crayons-and-glue", ("kids",))
    _, kid_key = await create_api_key(pool, kid["id"], "tablet", ("catalog:read",))
    query = signed_query(app, film.file_id, str(kid["id"]))
    async with client(app) as http:
        answers = [
            await http.get(f"/trickplay/{film.file_id}/{name}", headers=headers)
            for name in ("index.vtt", "sheet_000.jpg")
            for headers in ({"x-api-key": kid_key}, {})
        ]
        signed = await http.get(f"/trickplay/{film.file_id}/index.vtt?{query}")
    for answer in [*answers[::2], signed]:
        assert (answer.status_code, answer.json()) == (
            404,
            {"code": "NOT_FOUND", "message": "file not found"},
        )
    assert [a.status_code for a in answers[1::2]] == [401, 401]  # anonymous


async def test_signatures_and_sheet_names_are_checked(
    app: Running, film: Film, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await generated(pool, film)
    other_item = await insert_item(pool, film.library_id, "Alien")
    other_file = await insert_file(pool, other_item, film.library_id, str(tmp_path / "alien.mkv"))
    other_query = signed_query(app, other_file, film.user_id)
    expired = stream_signer(app.app).sign_stream(film.file_id, film.user_id, int(time.time()) - 5)
    base = f"/trickplay/{film.file_id}"
    async with client(app, film) as http:

        async def status(path: str) -> tuple[int, str]:
            response = await http.get(path)
            return response.status_code, response.json()["code"]

        assert await status(f"{base}/index.vtt?{other_query}") == (403, "FORBIDDEN")
        assert await status(f"{base}/index.vtt?{expired}") == (403, "FORBIDDEN")
        assert await status("/trickplay/not-a-uuid/index.vtt") == (400, "BAD_USER_INPUT")
        for bad in ("sheet_1", "index", "sheet_000%00", "sheet_-01", "..%2e"):
            assert await status(f"{base}/{bad}.jpg") == (400, "BAD_USER_INPUT"), bad
        for absent in ("sheet_001", "sheet_0000", "sheet_999999"):
            assert await status(f"{base}/{absent}.jpg") == (404, "NOT_FOUND"), absent
        traversal = await http.get(f"{base}/..%2F..%2Fkeys%2Fstream-signing.jpg")
        other_extension = await http.get(f"{base}/sheet_000.png")
    assert traversal.status_code in (400, 404)
    assert other_extension.status_code == 404
