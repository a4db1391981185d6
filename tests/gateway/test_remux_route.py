"""``/remux/{fileId}`` through the real app under uvicorn and real PostgreSQL: PyAV plays the
signed URL over HTTP, the headers say "a stream, not a file", problems are JSON, and a client
that leaves mid-body leaves no remux thread behind."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

import asyncpg
import av

from gateway.media_routes import stream_signer
from resolvers.user.accounts import create_user
from tests.gateway.test_app import Running
from tests.gateway.test_stream import Film, client, film  # noqa: F401 (fixtures)
from tests.support.catalog_rows import insert_file, insert_item
from tests.support.media_files import make_video
from tests.support.raw_http import leave_mid_body


def remux_url(running: Running, film: Film, file_id: uuid.UUID | None = None, **query: int) -> str:  # noqa: F811
    path = stream_signer(running.app).remux_path(
        file_id or film.file_id, film.user_id, int(time.time()) + 600, **query
    )
    return running.url + path


async def add_file(pool: asyncpg.Pool, film: Film, path: Path) -> uuid.UUID:  # noqa: F811
    item = await insert_item(pool, film.library_id, path.stem)
    return await insert_file(pool, item, film.library_id, str(path), container="mkv")


def play(url: str) -> tuple[list[str], int, float]:
    with av.open(url, timeout=10) as container:
        codecs = [s.codec_context.codec.canonical_name for s in container.streams]
        frames = list(container.decode(video=0))
        return codecs, len(frames), float(frames[0].time or 0.0)


async def test_pyav_plays_the_signed_remux_url(app: Running, film: Film) -> None:  # noqa: F811
    codecs, frames, first = await asyncio.to_thread(play, remux_url(app, film))
    assert (codecs, frames, first) == (["h264", "aac"], 72, 0.0)
    with_audio = remux_url(app, film, audio_stream_index=1, start_ms=1000)
    assert with_audio.endswith("&audio=1&start=1000")
    assert (await asyncio.to_thread(play, with_audio))[0] == ["h264", "aac"]


async def test_headers_head_and_ranges(app: Running, film: Film) -> None:  # noqa: F811
    url = remux_url(app, film)
    async with client(app) as http:
        whole = await http.get(url)
        ranged = await http.get(url, headers={"range": "bytes=100-199"})
        head = await http.head(url)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "none"
    assert whole.headers["cache-control"] == "private"
    assert "content-length" not in whole.headers
    assert whole.headers["transfer-encoding"] == "chunked"
    assert whole.content[4:8] == b"ftyp"
    assert (ranged.status_code, ranged.content) == (200, whole.content)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == "video/mp4"
    assert head.headers["accept-ranges"] == "none"
    assert "content-length" not in head.headers


async def test_problems(app: Running, film: Film, pool: asyncpg.Pool, tmp_path: Path) -> None:  # noqa: F811
    url = remux_url(app, film)
    async with client(app) as http:
        anonymous = await http.get(f"/remux/{film.file_id}")
        assert (anonymous.status_code, anonymous.json()["code"]) == (401, "UNAUTHENTICATED")
        signature = url.split("sig=")[1].split("&")[0]
        bad = url.replace(signature, ("B" if signature[0] == "A" else "A") + signature[1:])
        forbidden = await http.get(bad)
        assert forbidden.status_code == 403
        assert forbidden.json() == {
            "code": "FORBIDDEN",
            "message": "Invalid or expired stream signature",
        }
        unknown = await http.get(remux_url(app, film, uuid.uuid4()))
        assert (unknown.status_code, unknown.json()) == (
            404,
            {"code": "NOT_FOUND", "message": "file not found"},
        )
        assert (await http.get(f"{app.url}/remux/nope?{url.split('?')[1]}")).status_code == 400
        for query in ("audio=x", "audio=-1", "audio=1.5", "start=-5", "start=604800001", "audio=0"):
            refused = await http.get(f"{url}&{query}")
            assert refused.status_code == 400, query
            assert refused.json()["code"] == "BAD_USER_INPUT", query
        assert (await http.get(f"{url}&start=604800000")).status_code == 200

        vorbis = await add_file(
            pool, film, make_video(tmp_path / "media" / "v.mkv", audio="vorbis")
        )
        not_remuxable = await http.get(remux_url(app, film, vorbis))
        assert (not_remuxable.status_code, not_remuxable.json()) == (
            422,
            {"code": "NOT_REMUXABLE", "message": "audio codec vorbis cannot be copied into MP4"},
        )

        async with pool.acquire() as conn:
            kid = await create_user(conn, "kid", "crayons-and-glue", ("kids",))
        hidden = stream_signer(app.app).remux_path(
            film.file_id, str(kid["id"]), int(time.time()) + 60
        )
        assert (await http.get(hidden)).status_code == 404

        film.path.unlink()
        missing = await http.get(url)
        assert (missing.status_code, missing.json()["message"]) == (404, "file is missing on disk")


async def test_a_full_house_answers_busy(app: Running, film: Film) -> None:  # noqa: F811
    app.app.state.remux_slots = asyncio.Semaphore(0)
    async with client(app) as http:
        busy = await http.get(remux_url(app, film))
    assert (busy.status_code, busy.json()["code"]) == (503, "BUSY")
    assert busy.headers["retry-after"] == "5"


def remux_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "remux")


async def test_a_client_leaving_mid_body_leaves_no_thread(
    app: Running,
    film: Film,  # noqa: F811
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    big = make_video(
        tmp_path / "media" / "big.mkv",
        seconds=3,
        width=1920,
        height=1080,
        fps=240,
        codec="mpeg4",
        audio=None,
    )  # about 20 MB of MP4: far more than the socket buffers and the queue hold
    url = remux_url(app, film, await add_file(pool, film, big))

    def remuxing_mid_body() -> None:
        assert remux_threads() == 1  # the server is mid-body, waiting for room

    def gone_within(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while remux_threads() and time.monotonic() < deadline:
            time.sleep(0.02)
        return remux_threads() == 0

    await asyncio.to_thread(
        leave_mid_body,
        app.url,
        url.removeprefix(app.url),
        256 * 1024,
        meanwhile=remuxing_mid_body,
    )
    assert await asyncio.to_thread(gone_within, 10)
    slots = app.app.state.remux_slots
    deadline = time.monotonic() + 5  # the slot is handed back on the server's loop just after
    while slots._value != 4 and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    assert slots._value == 4  # every slot is free again
