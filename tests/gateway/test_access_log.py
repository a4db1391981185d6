"""The access log: one line per HTTP request (method, route template, status, duration, request
id, never the path's values or the query string) and per WebSocket connect and close."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import structlog
import websockets

from gateway.media_routes import stream_signer, stream_url
from tests.gateway.test_app import GRAPHQL_RESPONSE, Running, running_app
from tests.gateway.test_stream import client, make_film

SIGNED = "exp=1999999999&uid=0190a7c2-0000-7000-8000-00000000000a&sig=" + "s" * 43


def _access(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {key: value for key, value in log.items() if key not in ("log_level", "duration_ms")}
        for log in logs
        if log["event"] in ("http request", "websocket connected", "websocket closed")
    ]


async def _until(logs: list[dict[str, Any]], event: str) -> None:
    deadline = time.monotonic() + 10
    while not any(log["event"] == event for log in logs):
        assert time.monotonic() < deadline, f"no {event!r} line"
        await asyncio.sleep(0.02)


async def test_each_request_and_websocket_logs_one_line_without_its_query(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    with structlog.testing.capture_logs() as logs, running_app(database_url, tmp_path) as app:
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
            live = await client.get("/health/live", headers={"x-request-id": "req-1"})
            stream = await client.get(f"/stream/0190a7c2-0000-7000-8000-000000000001?{SIGNED}")
            graphql = await client.post(
                "/graphql",
                json={"query": "{ __typename }"},
                headers={"accept": GRAPHQL_RESPONSE, "x-request-id": "req-3"},
            )
        ws_url = app.url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(
            ws_url,
            subprotocols=["graphql-transport-ws"],
            additional_headers={"x-request-id": "ws-1"},
        ) as socket:  # type: ignore[arg-type]
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await socket.recv())["type"] == "connection_ack"
        await _until(logs, "websocket closed")

    stream_id = stream.headers["x-request-id"]
    assert (live.status_code, live.headers["x-request-id"]) == (200, "req-1")
    assert stream.status_code == 403
    assert graphql.status_code == 200
    lines = _access(logs)
    assert lines == [
        {
            "event": "http request",
            "method": "GET",
            "route": "/health/live",
            "status": 200,
            "request_id": "req-1",
        },
        {
            "event": "http request",
            "method": "GET",
            "route": "/stream/{file_id}",
            "status": 403,
            "request_id": stream_id,
        },
        {
            "event": "http request",
            "method": "POST",
            "route": "/graphql",
            "status": 200,
            "request_id": "req-3",
        },
        {"event": "websocket connected", "route": "/graphql", "request_id": "ws-1"},
        {
            "event": "websocket closed",
            "route": "/graphql",
            "accepted": True,
            "close_code": 1000,
            "request_id": "ws-1",
        },
    ]
    assert all(isinstance(log["duration_ms"], float) for log in logs if "duration_ms" in log)
    assert "sig=" not in repr(logs)


async def test_the_access_log_can_be_turned_off(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    with (
        structlog.testing.capture_logs() as logs,
        running_app(database_url, tmp_path, REVENGE_LOG_ACCESS="false") as app,
    ):
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
            live = await client.get("/health/live")

    assert live.status_code == 200
    assert "x-request-id" in live.headers
    assert _access(logs) == []


async def test_a_seek_answered_before_the_router_is_logged_under_the_stream_route(
    app: Running, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    film = await make_film(pool, tmp_path)
    url = stream_url(film.file_id, film.user_id, stream_signer(app.app))

    with structlog.testing.capture_logs() as logs:
        async with client(app) as http:
            seek = await http.get(url, headers={"range": "bytes=0-99", "x-request-id": "seek-1"})

    assert seek.status_code == 206 and "x-request-id" not in seek.headers  # the seek path
    assert _access(logs) == [
        {
            "event": "http request",
            "method": "GET",
            "route": "/stream/{file_id}",
            "status": 206,
            "request_id": "seek-1",
        }
    ]
    assert "sig=" not in repr(logs)
