"""Which ``/stream`` answers the server sends itself (``http.response.pathsend``, what granian
offers) and which are copied through Python: the real app called in this process with a scope
that offers the extension (or not), a real Matroska file, real PostgreSQL. The messages the app
sends show the path taken."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Message

from gateway.app import create_app
from gateway.media_routes import PATHSEND, stream_signer, stream_url
from infra.database import Database
from infra.settings import load_settings
from infra.signing import StreamSigner
from tests.gateway.test_serve_granian import server, server_env  # noqa: F401 (fixtures)
from tests.gateway.test_stream import Film, make_film


@pytest.fixture
async def started(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Starlette, Film]]:
    settings = load_settings(
        {
            "REVENGE_DATA_DIR": str(tmp_path / "data"),
            "REVENGE_LOG_LEVEL": "warning",
            "REVENGE_WORKER_IN_PROCESS": "false",
        }
    )
    app = create_app(settings, database=Database(pool=pool, url=database_url))
    film = await make_film(pool, tmp_path)
    async with app.router.lifespan_context(app):
        yield app, film


async def get(
    app: Starlette, target: str, headers: dict[str, str], *, pathsend: bool = True
) -> list[Message]:
    """The messages the app sends for ``GET target``."""
    path, _, query = target.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"test")]
        + [(name.encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
        "extensions": {PATHSEND: {}} if pathsend else {},
    }
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages


def target_and_headers(app: Starlette, film: Film, caller: str) -> tuple[str, dict[str, str]]:
    """``signed``: a signed URL (the seek path answers its ranges); ``key``: the route."""
    if caller == "signed":
        return stream_url(film.file_id, film.user_id, stream_signer(app)), {}
    return f"/stream/{film.file_id}", {"x-api-key": film.key}


def head(messages: list[Message]) -> tuple[int, dict[str, str]]:
    start = messages[0]
    assert start["type"] == "http.response.start"
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    return start["status"], headers


def body(messages: list[Message]) -> bytes:
    assert all(message["type"] == "http.response.body" for message in messages[1:])
    return b"".join(message.get("body", b"") for message in messages[1:])


@pytest.mark.parametrize("caller", ["signed", "key"])
async def test_a_get_without_a_range_is_sent_by_the_server(
    started: tuple[Starlette, Film], caller: str
) -> None:
    app, film = started
    target, headers = target_and_headers(app, film, caller)

    messages = await get(app, target, headers)

    status, sent = head(messages)
    assert status == 200 and sent["content-length"] == str(len(film.data))
    assert messages[1:] == [{"type": PATHSEND, "path": str(film.path)}]


@pytest.mark.parametrize("caller", ["signed", "key"])
@pytest.mark.parametrize("last", ["", "last", "past the end"])
async def test_a_range_that_is_the_whole_file_is_sent_by_the_server(
    started: tuple[Starlette, Film], caller: str, last: str
) -> None:
    # A player's first request is ``bytes=0-``: it must not be copied through Python.
    app, film = started
    size = len(film.data)
    target, headers = target_and_headers(app, film, caller)
    ending = {"": "", "last": str(size - 1), "past the end": str(size + 4096)}[last]

    for _ in range(2):  # the first request looks the URL up, the second finds it
        messages = await get(app, target, {**headers, "range": f"bytes=0-{ending}"})

        status, sent = head(messages)
        assert status == 206
        assert sent["content-range"] == f"bytes 0-{size - 1}/{size}"
        assert sent["content-length"] == str(size)
        assert sent["accept-ranges"] == "bytes" and sent["content-type"] == "video/x-matroska"
        assert messages[1:] == [{"type": PATHSEND, "path": str(film.path)}]


@pytest.mark.parametrize("caller", ["signed", "key"])
async def test_a_part_of_the_file_or_a_server_without_pathsend_gets_the_bytes(
    started: tuple[Starlette, Film], caller: str
) -> None:
    app, film = started
    size = len(film.data)
    target, headers = target_and_headers(app, film, caller)

    part = await get(app, target, {**headers, "range": "bytes=0-99"})
    rest = await get(app, target, {**headers, "range": "bytes=100-"})
    whole = await get(app, target, {**headers, "range": "bytes=0-"}, pathsend=False)

    assert head(part)[0] == 206 and body(part) == film.data[:100]
    assert head(rest)[1]["content-range"] == f"bytes 100-{size - 1}/{size}"
    assert body(rest) == film.data[100:]
    assert head(whole)[0] == 206 and body(whole) == film.data


async def test_granian_sends_the_whole_file_for_bytes_0_and_without_a_range(
    pool: asyncpg.Pool,
    tmp_path: Path,
    server: tuple[subprocess.Popen[bytes], str],  # noqa: F811 (the fixture)
) -> None:
    # `revenge serve` as deployed (granian offers pathsend): the server's own sending of a 206.
    _, url = server
    film = await make_film(pool, tmp_path)
    signer = StreamSigner.open(tmp_path / "data" / "keys" / "stream-signing.key")
    signed = stream_url(film.file_id, film.user_id, signer)
    size = len(film.data)

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        plain = await http.get(signed)
        ranges = [await http.get(signed, headers={"range": "bytes=0-"}) for _ in range(2)]
        part = await http.get(signed, headers={"range": "bytes=10-19"})

    assert plain.status_code == 200 and plain.content == film.data
    for whole in ranges:
        assert whole.status_code == 206 and whole.content == film.data
        assert whole.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
    assert part.status_code == 206 and part.content == film.data[10:20]
