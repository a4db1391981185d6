"""The seek path of ``/stream`` (``gateway.stream_seeks``): the real app under uvicorn, a real
Matroska file, raw HTTP checking bytes and headers against the route's own answers."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import pytest

from gateway import media_routes, stream_seeks
from gateway.media_routes import SignedLookups, stream_signer, stream_url
from gateway.stream_seeks import OpenFiles, PageCache
from infra.errors import Forbidden
from resolvers.catalog.stream_files import StreamFile
from tests.gateway.test_app import Running
from tests.gateway.test_stream import Film, client, make_film, open_descriptors
from tests.support.catalog_rows import insert_file, insert_item
from tests.support.raw_http import leave_mid_body

SAME = ("content-type", "accept-ranges", "cache-control", "etag", "last-modified")


@pytest.fixture
async def film(app: Running, pool: asyncpg.Pool, tmp_path: Path) -> Film:
    return await make_film(pool, tmp_path)


def signed(app: Running, film: Film, lifetime_seconds: int = 3600) -> str:
    return stream_url(
        film.file_id, film.user_id, stream_signer(app.app), lifetime_seconds=lifetime_seconds
    )


async def test_seeks_of_a_looked_up_url_answer_as_the_route_does(app: Running, film: Film) -> None:
    url = signed(app, film)
    size = len(film.data)
    cases = {
        "bytes=4000-4999": (4000, 4999),
        "bytes=1-1": (1, 1),
        "bytes=2500-": (2500, size - 1),
        f"bytes=100-{size + 5000}": (100, size - 1),
    }
    async with client(app) as http, client(app, film) as by_key:
        # A URL not seen before is looked up by the seek path itself.
        first = await http.get(url, headers={"range": "bytes=0-99"})
        assert first.status_code == 206 and "x-request-id" not in first.headers
        assert first.content == film.data[:100]
        for header, (start, last) in cases.items():
            seek = await http.get(url, headers={"range": header})
            # By key: never the seek path (it answers signed URLs only), so the route's answer.
            route = await by_key.get(f"/stream/{film.file_id}", headers={"range": header})
            assert seek.status_code == route.status_code == 206, header
            assert seek.content == route.content == film.data[start : last + 1], header
            assert "x-request-id" not in seek.headers, header  # answered in front of the stack
            assert "x-request-id" in route.headers
            assert seek.headers["content-range"] == f"bytes {start}-{last}/{size}", header
            assert seek.headers["content-length"] == str(last - start + 1), header
            for name in SAME:
                assert seek.headers[name] == route.headers[name], (header, name)

        # Seeks are counted like the requests the middleware sees: the five seeks and the four
        # requests by key (the route) under the same route label. A request is counted once its
        # handler returns, which may be a moment after the client has its last byte.
        def count(metrics: str, status: str) -> float:
            labels = f'method="GET",route="/stream/{{file_id}}",status="{status}"'
            line = "revenge_http_requests_total{" + labels + "} "
            found = [row for row in metrics.splitlines() if row.startswith(line)]
            return float(found[0].split()[-1]) if found else 0.0

        for _ in range(100):
            metrics = app.app.state.metrics.render().decode()
            if count(metrics, "206") >= 1 + 2 * len(cases):
                break
            await asyncio.sleep(0.02)

    assert count(metrics, "206") == 1 + 2 * len(cases)
    seconds = 'revenge_http_request_duration_seconds_count{method="GET",route="/stream/{file_id}"}'
    assert seconds in metrics


async def test_what_the_seek_path_leaves_goes_to_the_route(app: Running, film: Film) -> None:
    url = signed(app, film)
    size = len(film.data)
    async with client(app) as http:
        assert (await http.get(url, headers={"range": "bytes=0-9"})).status_code == 206
        several = await http.get(url, headers={"range": "bytes=0-9,20-29"})
        stale = await http.get(url, headers={"range": "bytes=0-9", "if-range": '"stale"'})
        head = await http.head(url, headers={"range": "bytes=10-19"})
        past_end = await http.get(url, headers={"range": f"bytes={size}-"})
        malformed = await http.get(url, headers={"range": "bytes=ten-twenty"})

    assert several.status_code == 206
    assert several.headers["content-type"].startswith("multipart/byteranges")
    assert (stale.status_code, stale.content) == (200, film.data)  # If-Range failed: all of it
    assert (head.status_code, head.content, head.headers["content-length"]) == (206, b"", "10")
    assert past_end.status_code == 416
    assert past_end.json()["code"] == "RANGE_NOT_SATISFIABLE"
    assert past_end.headers["content-range"] == f"bytes */{size}"
    assert (malformed.status_code, malformed.json()["code"]) == (400, "BAD_USER_INPUT")
    for answer in (several, stale, head, past_end, malformed):
        assert "x-request-id" in answer.headers


async def test_a_get_without_a_range_is_answered_by_the_seek_path_as_the_route_does(
    app: Running, film: Film
) -> None:
    # A plain GET of a signed URL (curl, a download) is copied here too: faster than granian's
    # pathsend (measured in the commit), and it needs no middleware or router.
    url = signed(app, film)
    async with client(app) as http, client(app, film) as by_key:
        first = await http.get(url)  # looks the URL up itself
        again = await http.get(url)
        route = await by_key.get(f"/stream/{film.file_id}")

    for whole in (first, again):
        assert (whole.status_code, whole.content) == (200, film.data)
        assert "x-request-id" not in whole.headers and "content-range" not in whole.headers
        assert whole.headers["content-length"] == str(len(film.data))
        assert {name: whole.headers[name] for name in SAME} == {
            name: route.headers[name] for name in SAME
        }
    assert "x-request-id" in route.headers


async def test_bad_ranges_of_a_looked_up_url_get_the_route_s_answers(
    app: Running, film: Film
) -> None:
    url = signed(app, film)
    size = len(film.data)
    async with client(app) as http:
        assert (await http.get(url, headers={"range": "bytes=0-9"})).status_code == 206
        for bad in ("bytes=500-100", "bytes=abc", "items=0-10", "bytes=", "bytes=1-2-3"):
            refused = await http.get(url, headers={"range": bad})
            assert refused.status_code == 400, bad
            assert refused.json()["code"] == "BAD_USER_INPUT", bad
        for outside in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}"):
            unsatisfiable = await http.get(url, headers={"range": outside})
            assert unsatisfiable.status_code == 416, outside
            assert unsatisfiable.headers["content-range"] == f"bytes */{size}"
        last_byte = await http.get(url, headers={"range": f"bytes={size - 1}-"})
    assert (last_byte.status_code, last_byte.content) == (206, film.data[-1:])
    assert "x-request-id" not in last_byte.headers


async def test_an_expired_url_is_refused_though_its_lookup_is_cached(
    app: Running, film: Film
) -> None:
    url = signed(app, film, lifetime_seconds=2)
    async with client(app) as http:
        assert (await http.get(url, headers={"range": "bytes=0-9"})).status_code == 206
        assert (await http.get(url, headers={"range": "bytes=10-19"})).status_code == 206
        expires_at = int(url.split("exp=")[1].split("&")[0])
        await asyncio.sleep(max(0.0, expires_at - time.time()) + 0.2)
        late = await http.get(url, headers={"range": "bytes=10-19"})
    assert late.status_code == 403
    assert late.json()["code"] == "FORBIDDEN"


async def test_a_replaced_then_deleted_file_is_noticed_and_closed(
    app: Running, film: Film, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_seeks, "REVALIDATE_SECONDS", 0.0)
    url = signed(app, film)
    async with client(app) as http:
        await http.get(url, headers={"range": "bytes=0-9"})
        before = await http.get(url, headers={"range": "bytes=100-199"})
        assert before.content == film.data[100:200]
        assert open_descriptors(film.path) == 1  # held for the next seek

        replacement = film.path.with_suffix(".new")
        replacement.write_bytes(bytes(reversed(film.data)))
        os.replace(replacement, film.path)
        after = await http.get(url, headers={"range": "bytes=100-199"})
        assert after.content == bytes(reversed(film.data))[100:200]
        assert after.headers["etag"] != before.headers["etag"]

        film.path.unlink()
        gone = await http.get(url, headers={"range": "bytes=100-199"})
    assert gone.status_code == 404
    assert gone.json() == {"code": "NOT_FOUND", "message": "file is missing on disk"}
    assert open_descriptors(film.path) == 0
    assert open_descriptors(Path(f"{film.path} (deleted)")) == 0  # the old inode is let go


async def test_chunks_not_in_memory_are_read_off_the_loop_and_match(
    app: Running, film: Film, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    big = tmp_path / "media" / "cold.mkv"
    data = os.urandom(6 * 1024 * 1024)
    big.write_bytes(data)
    item = await insert_item(pool, film.library_id, "Cold")
    file_id = await insert_file(pool, item, film.library_id, str(big), container="mkv")
    url = stream_url(file_id, film.user_id, stream_signer(app.app))
    handle = os.open(big, os.O_RDONLY)
    try:
        os.fsync(handle)  # written back, so the kernel may drop the pages
        pages = PageCache()
        mapped = pages.map(handle, len(data))
        assert mapped is not None
        assert pages.resident(mapped, len(data), 0, 4096)
        os.posix_fadvise(handle, 0, 0, os.POSIX_FADV_DONTNEED)
        cold = not pages.resident(mapped, len(data), 3 * 1024 * 1024, 1024 * 1024)
        async with client(app) as http:
            await http.get(url, headers={"range": "bytes=0-9"})
            seek = await http.get(url, headers={"range": "bytes=3000000-4999999"})
        warm = pages.resident(mapped, len(data), 3000000, 2000000)
        pages.unmap(mapped, len(data))
    finally:
        os.close(handle)
    assert cold  # the pages were gone before the seek
    assert seek.status_code == 206
    assert seek.content == data[3000000:5000000]
    assert warm  # the seek read them back (in a worker thread)


def test_the_page_cache_question_on_a_file_beyond_its_end(tmp_path: Path) -> None:
    path = tmp_path / "short.bin"
    path.write_bytes(b"x" * 10000)
    pages = PageCache()
    handle = os.open(path, os.O_RDONLY)
    try:
        mapped = pages.map(handle, 10000)
        assert pages.resident(mapped, 10000, 0, 10000)
        assert not pages.resident(mapped, 10000, 9000, 5000)  # past the end: read in a thread
        assert not pages.resident(None, 10000, 0, 100)  # no mapping: always a thread
        assert pages.map(handle, 0) is None
        if mapped is not None:
            pages.unmap(mapped, 10000)
    finally:
        os.close(handle)


async def test_idle_files_are_closed_by_the_sweep(tmp_path: Path) -> None:
    path = tmp_path / "idle.bin"
    path.write_bytes(b"y" * 5000)
    files = OpenFiles()
    opened = await files.acquire(str(path))
    assert opened is not None
    files.sweep()  # in use, and fresh: kept
    assert open_descriptors(path) == 1
    opened.release()
    files.entries[str(path)].used -= stream_seeks.IDLE_SECONDS + 1
    files.sweep()
    assert open_descriptors(path) == 0
    assert await files.acquire(str(tmp_path / "missing.bin")) is None
    assert await files.acquire(str(tmp_path)) is None  # a folder is no media file
    files.close()


async def test_a_client_leaving_a_seek_mid_body_releases_the_file(
    app: Running, film: Film, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    big = tmp_path / "media" / "long.mkv"
    big.write_bytes(os.urandom(48 * 1024 * 1024))
    item = await insert_item(pool, film.library_id, "Long")
    file_id = await insert_file(pool, item, film.library_id, str(big), container="mkv")
    url = stream_url(file_id, film.user_id, stream_signer(app.app))
    async with client(app) as http:
        assert (await http.get(url, headers={"range": "bytes=0-9"})).status_code == 206
    await asyncio.to_thread(leave_mid_body, app.url, url, 1024 * 1024, range_header="bytes=0-")
    files: OpenFiles = app.app.state.open_files
    for _ in range(500):  # up to 10 s for the server to notice
        if not files.entries[str(big)].users:
            break
        await asyncio.sleep(0.02)
    assert files.entries[str(big)].users == 0
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as http:  # still serving
        again = await http.get(url, headers={"range": "bytes=5-14"})
    assert again.status_code == 206


async def test_a_hundred_readers_opening_a_url_together_share_one_lookup_and_one_open(
    app: Running, film: Film, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: SignedLookups = app.app.state.signed_lookups
    looked_up: list[tuple[str, ...]] = []
    lookup = lookups.lookup
    assert lookup is not None

    async def counted(key: tuple[str, ...]) -> StreamFile | None:
        looked_up.append(key)
        return await lookup(key)

    opened: list[str] = []
    real_open = stream_seeks._open

    def counted_open(path: str) -> stream_seeks._OpenFile | None:
        opened.append(path)
        return real_open(path)

    monkeypatch.setattr(lookups, "lookup", counted)
    monkeypatch.setattr(stream_seeks, "_open", counted_open)
    url = signed(app, film)
    starts = [(n * 331) % (len(film.data) - 100) for n in range(100)]
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=app.url, timeout=30, limits=limits) as http:
        seeks = await asyncio.gather(
            *(http.get(url, headers={"range": f"bytes={s}-{s + 99}"}) for s in starts)
        )
    for start, seek in zip(starts, seeks, strict=True):
        assert seek.status_code == 206
        assert seek.content == film.data[start : start + 100]
        assert "x-request-id" not in seek.headers  # all answered by the seek path
    assert len(looked_up) == 1
    assert opened == [str(film.path)]
    assert open_descriptors(film.path) == 1


async def test_a_shared_lookup_survives_a_waiter_leaving_and_hands_errors_to_all() -> None:
    calls: list[tuple[str, ...]] = []
    release = asyncio.Event()
    found = StreamFile(uuid.uuid4(), uuid.uuid4(), "/media/film.mkv", 10, "mkv")

    async def lookup(key: tuple[str, ...]) -> StreamFile | None:
        calls.append(key)
        await release.wait()
        if key[0] == "broken":
            raise ConnectionError("the database is away")
        return found

    lookups = SignedLookups(lookup)
    key = ("file", str(int(time.time()) + 3600), "user", "sig")
    leaving = asyncio.create_task(lookups.load(key))
    staying = [asyncio.create_task(lookups.load(key)) for _ in range(3)]
    await asyncio.sleep(0)
    leaving.cancel()  # its client went away
    release.set()
    assert await asyncio.gather(*staying) == [found] * 3
    assert calls == [key]
    assert lookups.get(key) == found  # kept for the seeks after

    broken = ("broken", key[1], "user", "sig")
    waiting = [asyncio.create_task(lookups.load(broken)) for _ in range(3)]
    errors = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(error, ConnectionError) for error in errors)
    assert calls == [key, broken]
    assert lookups.get(broken) is None  # an error is not kept: the next request asks again
    release.clear()
    again = asyncio.create_task(lookups.load(broken))
    for _ in range(10):
        await asyncio.sleep(0)
    assert calls == [key, broken, broken]
    again.cancel()
    lookups.close()


async def test_an_entry_in_use_is_refreshed_once_and_a_revoked_url_loses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(media_routes, "REFRESH_AHEAD_SECONDS", media_routes.SIGNED_LOOKUP_SECONDS)
    old = StreamFile(uuid.uuid4(), uuid.uuid4(), "/media/old.mkv", 10, "mkv")
    new = StreamFile(old.id, old.item_id, "/media/new.mkv", 20, "mkv")
    answers: dict[str, Any] = {}
    calls: list[str] = []

    async def lookup(key: tuple[str, ...]) -> StreamFile | None:
        calls.append(key[0])
        await asyncio.sleep(0)
        answer = answers[key[0]]
        if isinstance(answer, Exception):
            raise answer
        return cast(StreamFile | None, answer)

    lookups = SignedLookups(lookup)
    expires = time.time() + 3600
    names = ("kept", "revoked", "hidden", "down")
    keys = {name: (name, str(int(expires)), "user", "sig") for name in names}
    answers.update(
        kept=new, revoked=Forbidden("the user of this stream URL is disabled or gone"), hidden=None,
        down=ConnectionError("the database is away"),
    )  # fmt: skip
    for key in keys.values():
        lookups.put(key, old, expires)
    for _ in range(3):  # in its refresh window: served from the entry, looked up once
        assert all(lookups.get(key) == old for key in keys.values())
    for _ in range(10):
        await asyncio.sleep(0)
    assert sorted(calls) == sorted(keys)
    assert lookups.get(keys["kept"]) == new  # extended with the fresh answer
    assert lookups.get(keys["revoked"]) is None  # refused now: gone from the cache
    assert lookups.get(keys["hidden"]) is None
    assert lookups.get(keys["down"]) == old  # a failed refresh leaves it to expire
    lookups.close()
