"""Direct play through ``/stream/{fileId}``: the real app under uvicorn, real PostgreSQL, a real
Matroska file, httpx checking every range case against the file's bytes, and PyAV playing the
signed URL over HTTP."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import av
import httpx
import pytest

from gateway.media_routes import stream_signer, stream_url
from resolvers.user.accounts import create_user
from resolvers.user.api_keys import create_api_key
from tests.gateway.test_app import Running
from tests.support.auth import admin_api_key
from tests.support.catalog_rows import insert_file, insert_item, insert_library
from tests.support.media_files import make_video
from tests.support.raw_http import leave_mid_body


@dataclass
class Film:
    file_id: uuid.UUID
    item_id: uuid.UUID
    library_id: uuid.UUID
    path: Path
    data: bytes
    key: str
    user_id: str


@pytest.fixture
async def film(app: Running, pool: asyncpg.Pool, tmp_path: Path) -> Film:
    return await make_film(pool, tmp_path)


async def make_film(pool: asyncpg.Pool, tmp_path: Path) -> Film:
    """A 3 s Matroska film in a library, and its owner (an admin with a key)."""
    (tmp_path / "media").mkdir()
    path = make_video(tmp_path / "media" / "Heat (1995).mkv", seconds=3)
    library = await insert_library(pool, root_paths=[str(path.parent)])
    item = await insert_item(pool, library, "Heat")
    file_id = await insert_file(
        pool, item, library, str(path), size=path.stat().st_size, container="mkv"
    )
    key = await admin_api_key(pool, "owner")
    user_id = str(await pool.fetchval("SELECT id FROM users WHERE name = 'owner'"))
    return Film(file_id, item, library, path, path.read_bytes(), key, user_id)


def client(app: Running, film: Film | None = None) -> httpx.AsyncClient:
    headers = {"x-api-key": film.key} if film else {}
    return httpx.AsyncClient(base_url=app.url, timeout=30, headers=headers)


def multipart_parts(response: httpx.Response) -> list[tuple[str, bytes]]:
    """(Content-Range, body) of each part of a ``multipart/byteranges`` answer."""
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    boundary = content_type.split("boundary=", 1)[1].encode()
    body = response.content
    assert body.endswith(b"--" + boundary + b"--")
    parts = []
    for chunk in body[: -len(boundary) - 4].split(b"--" + boundary + b"\r\n")[1:]:
        head, _, content = chunk.partition(b"\r\n\r\n")
        headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        assert headers[b"Content-Type"] == b"video/x-matroska"
        assert content.endswith(b"\r\n")
        parts.append((headers[b"Content-Range"].decode(), content[:-2]))
    return parts


async def test_full_file_and_headers(app: Running, film: Film) -> None:
    async with client(app, film) as http:
        response = await http.get(f"/stream/{film.file_id}")
    assert response.status_code == 200
    assert response.content == film.data
    assert response.headers["content-type"] == "video/x-matroska"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["cache-control"] == "private"
    assert response.headers["content-length"] == str(len(film.data))
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith(" GMT")


async def test_every_range_case_matches_the_file(app: Running, film: Film) -> None:
    data, size = film.data, len(film.data)
    assert size > 5000
    async with client(app, film) as http:

        async def ranged(value: str) -> httpx.Response:
            return await http.get(f"/stream/{film.file_id}", headers={"range": value})

        single = await ranged("bytes=100-599")
        assert single.status_code == 206
        assert single.content == data[100:600]
        assert single.headers["content-range"] == f"bytes 100-599/{size}"
        assert single.headers["content-length"] == "500"

        suffix = await ranged("bytes=-500")
        assert (suffix.status_code, suffix.content) == (206, data[-500:])
        assert suffix.headers["content-range"] == f"bytes {size - 500}-{size - 1}/{size}"

        open_ended = await ranged("bytes=1000-")
        assert (open_ended.status_code, open_ended.content) == (206, data[1000:])

        past_end = await ranged(f"bytes=10-{size + 100}")  # clamped to the file
        assert (past_end.status_code, past_end.content) == (206, data[10:])

        multi = await ranged("bytes=0-9,2000-2099,-10")
        assert multi.status_code == 206
        assert multipart_parts(multi) == [
            (f"bytes 0-9/{size}", data[:10]),
            (f"bytes 2000-2099/{size}", data[2000:2100]),
            (f"bytes {size - 10}-{size - 1}/{size}", data[-10:]),
        ]
        assert multi.headers["content-length"] == str(len(multi.content))

        overlapping = await ranged("bytes=0-99,50-149")  # merged into one range
        assert (overlapping.status_code, overlapping.content) == (206, data[:150])
        assert overlapping.headers["content-range"] == f"bytes 0-149/{size}"

        for bad in ("bytes=500-100", "bytes=abc", "items=0-10", "bytes=", "nonsense"):
            refused = await ranged(bad)
            assert refused.status_code == 400, bad
            assert refused.json()["code"] == "BAD_USER_INPUT", bad

        for outside in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}"):
            unsatisfiable = await ranged(outside)
            assert unsatisfiable.status_code == 416, outside
            assert unsatisfiable.headers["content-range"] == f"bytes */{size}"
            assert unsatisfiable.json()["code"] == "RANGE_NOT_SATISFIABLE"

        many = await ranged("bytes=" + ",".join(f"{n * 10}-{n * 10 + 1}" for n in range(200)))
        assert many.status_code == 400
        assert many.json() == {
            "code": "BAD_USER_INPUT",
            "message": "at most 100 ranges in one request",
        }
        hundred = await ranged("bytes=" + ",".join(f"{n * 10}-{n * 10}" for n in range(100)))
        assert hundred.status_code == 206
        assert [body for _, body in multipart_parts(hundred)] == [
            data[n * 10 : n * 10 + 1] for n in range(100)
        ]


async def test_if_range_and_head(app: Running, film: Film) -> None:
    async with client(app, film) as http:
        first = await http.get(f"/stream/{film.file_id}", headers={"range": "bytes=0-0"})
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        for validator in (etag, modified):
            fresh = await http.get(
                f"/stream/{film.file_id}", headers={"range": "bytes=10-19", "if-range": validator}
            )
            assert (fresh.status_code, fresh.content) == (206, film.data[10:20])
        stale = await http.get(
            f"/stream/{film.file_id}", headers={"range": "bytes=10-19", "if-range": '"stale"'}
        )
        assert (stale.status_code, stale.content) == (200, film.data)

        head = await http.head(f"/stream/{film.file_id}")
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-length"] == str(len(film.data))
        assert head.headers["etag"] == etag
        ranged_head = await http.head(f"/stream/{film.file_id}", headers={"range": "bytes=5-9"})
        assert (ranged_head.status_code, ranged_head.content) == (206, b"")
        assert ranged_head.headers["content-range"] == f"bytes 5-9/{len(film.data)}"


async def test_signed_urls(app: Running, film: Film, pool: asyncpg.Pool, tmp_path: Path) -> None:
    signer = stream_signer(app.app)
    url = stream_url(film.file_id, film.user_id, signer)
    other_path = make_video(tmp_path / "media" / "Alien (1979).mkv", seconds=0.5)
    other_item = await insert_item(pool, film.library_id, "Alien")
    other_file = await insert_file(pool, other_item, film.library_id, str(other_path))
    other_user = await admin_api_key(pool, "neighbour")
    other_user_id = str(await pool.fetchval("SELECT id FROM users WHERE name = 'neighbour'"))
    assert other_user
    async with client(app) as http:
        valid = await http.get(url, headers={"range": "bytes=0-99"})
        assert (valid.status_code, valid.content) == (206, film.data[:100])

        query = url.split("?", 1)[1]
        params = dict(pair.split("=", 1) for pair in query.split("&"))
        expired = stream_url(film.file_id, film.user_id, signer, now=time.time() - 7 * 3600)
        tampered_sig = params["sig"][1:] + ("A" if params["sig"][0] != "A" else "B")
        other_file_url = stream_url(other_file, film.user_id, signer).split("?", 1)[1]
        refused = {
            "expired": expired,
            "tampered signature": url.replace(params["sig"], tampered_sig),
            "later expiry": url.replace(f"exp={params['exp']}", f"exp={int(params['exp']) + 1}"),
            "another user's id": url.replace(params["uid"], other_user_id),
            "signed for another file": f"/stream/{film.file_id}?{other_file_url}",
            "signature missing": url.split("&sig=")[0],
            "malformed expiry": url.replace(f"exp={params['exp']}", "exp=soon"),
        }
        for case, bad_url in refused.items():
            response = await http.get(bad_url)
            assert response.status_code == 403, case
            assert response.json() == {
                "code": "FORBIDDEN",
                "message": "Invalid or expired stream signature",
            }, case

        # A signature binds the user: disabling them kills their URLs — a URL not seen lately at
        # once, one a player is busy seeking within SIGNED_LOOKUP_SECONDS.
        await pool.execute(
            "UPDATE users SET is_disabled = true WHERE id = $1", uuid.UUID(film.user_id)
        )
        fresh = app.url + stream_url(
            film.file_id, film.user_id, stream_signer(app.app), lifetime_seconds=3601
        )
        disabled = await http.get(fresh)
        assert disabled.status_code == 403
        assert disabled.json()["code"] == "FORBIDDEN"
        app.app.state.signed_lookups.entries.clear()  # as if SIGNED_LOOKUP_SECONDS had passed
        assert (await http.get(url)).status_code == 403


async def test_credentials_and_bad_ids(app: Running, film: Film) -> None:
    async with client(app) as http:
        anonymous = await http.get(f"/stream/{film.file_id}")
        assert anonymous.status_code == 401
        assert anonymous.json()["code"] == "UNAUTHENTICATED"
        wrong_key = await http.get(f"/stream/{film.file_id}", headers={"x-api-key": "rvg_nope"})
        assert wrong_key.status_code == 401
        basic = await http.get(f"/stream/{film.file_id}", headers={"authorization": "Basic x"})
        assert basic.status_code == 401
    async with client(app, film) as http:
        unknown = await http.get(f"/stream/{uuid.uuid4()}")
        assert unknown.status_code == 404
        assert unknown.json() == {"code": "NOT_FOUND", "message": "file not found"}
        for bad in ("not-a-uuid", "1", "%00", "x" * 300):
            malformed = await http.get(f"/stream/{bad}")
            assert malformed.status_code == 400, bad
            assert malformed.json()["code"] == "BAD_USER_INPUT"
        for traversal in ("/stream/../../etc/passwd", "/stream/..%2F..%2Fetc%2Fpasswd"):
            assert (await http.get(traversal)).status_code == 404, traversal


async def test_an_item_hidden_from_the_principal_answers_not_found(
    app: Running, film: Film, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        kid = await create_user(conn, "kid", "crayons-and-glue", ("kids",))
    _, kid_key = await create_api_key(pool, kid["id"], "tablet", ("catalog:read",))
    async with client(app) as http:
        by_key = await http.get(f"/stream/{film.file_id}", headers={"x-api-key": kid_key})
        assert by_key.status_code == 404
        assert by_key.json()["code"] == "NOT_FOUND"
        signed = stream_url(film.file_id, str(kid["id"]), stream_signer(app.app))
        assert (await http.get(signed)).status_code == 404


async def test_a_file_deleted_after_scanning_answers_not_found(app: Running, film: Film) -> None:
    film.path.unlink()
    async with client(app, film) as http:
        response = await http.get(f"/stream/{film.file_id}", headers={"range": "bytes=0-9"})
    assert response.status_code == 404
    assert response.json() == {"code": "NOT_FOUND", "message": "file is missing on disk"}


def open_descriptors(path: Path | None = None) -> int:
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if path is None or target == str(path):
            count += 1
    return count


async def test_a_client_leaving_mid_body_leaves_no_open_files(
    app: Running, film: Film, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    big = tmp_path / "media" / "big.mkv"
    big.write_bytes(os.urandom(48 * 1024 * 1024))  # far more than the socket buffers hold
    item = await insert_item(pool, film.library_id, "Big")
    file_id = await insert_file(pool, item, film.library_id, str(big), container="mkv")
    # By key: the route (a signed URL's GET is the seek path's, whose open-file cache keeps
    # the file open on purpose). Warm the app's pool and caches first.
    url = f"/stream/{file_id}"
    async with client(app, film) as http:
        assert (await http.head(url)).status_code == 200
    before = open_descriptors()

    def file_open_mid_body() -> None:
        deadline = time.monotonic() + 5
        while open_descriptors(big) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert open_descriptors(big) == 1  # the server is mid-body, the file open

    def closed_within(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while open_descriptors(big) and time.monotonic() < deadline:
            time.sleep(0.02)
        return open_descriptors(big) == 0

    await asyncio.to_thread(
        leave_mid_body,
        app.url,
        url,
        256 * 1024,
        meanwhile=file_open_mid_body,
        headers={"x-api-key": film.key},
    )
    assert await asyncio.to_thread(closed_within, 10)
    assert open_descriptors() <= before


def play_from_the_middle(url: str) -> tuple[float, int, tuple[int, int]]:
    with av.open(url, timeout=10) as container:
        video = container.streams.video[0]
        duration = container.duration
        assert duration is not None
        container.seek(duration // 2)
        frames = []
        for frame in container.decode(video):
            frames.append(frame)
            if len(frames) == 10:
                break
        last = frames[-1]
        assert last.pts is not None and last.time_base is not None
        return duration / 1_000_000, len(frames), (last.width, last.height)


async def test_pyav_plays_the_signed_url_and_seeks(app: Running, film: Film) -> None:
    url = app.url + stream_url(film.file_id, film.user_id, stream_signer(app.app))
    duration, decoded, size = await asyncio.to_thread(play_from_the_middle, url)
    assert 2.9 <= duration <= 3.2
    assert (decoded, size) == (10, (320, 240))
