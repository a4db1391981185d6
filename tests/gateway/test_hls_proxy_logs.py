"""A segment proxied from another worker carries the player's signature to that worker, and
into no log line: neither ours (a worker unreachable) nor httpx's request log."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
import structlog
from starlette.applications import Starlette
from starlette.requests import Request

from gateway.hls_routes import _proxy
from infra.logging import configure_logging

SESSION = "0190a7c2-0000-7000-8000-000000000001"
QUERY = "exp=1999999999&uid=0190a7c2-0000-7000-8000-00000000000a&sig=" + "s" * 43


def _request(handler: httpx.MockTransport) -> Request:
    app = Starlette()
    app.state.services = {"http": httpx.AsyncClient(transport=handler)}
    scope = {
        "type": "http",
        "method": "GET",
        "path": f"/hls/{SESSION}/360p/seg_00003.ts",
        "query_string": QUERY.encode(),
        "headers": [],
        "path_params": {"session_id": SESSION},
        "app": app,
    }
    return Request(scope)


@pytest.fixture
def production_logging(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The serve command's logging at info, with every record that gets through captured."""
    caplog.set_level(logging.INFO)
    configure_logging("info", "json")
    try:
        yield caplog
    finally:
        structlog.reset_defaults()
        logging.getLogger("httpx").setLevel(logging.NOTSET)


async def test_a_proxied_segment_logs_no_signature(
    production_logging: pytest.LogCaptureFixture,
) -> None:
    asked: list[str] = []

    def worker(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, stream=httpx.ByteStream(b"\x47" * 188))

    with structlog.testing.capture_logs() as ours:
        answer = await _proxy(
            _request(httpx.MockTransport(worker)), "http://worker:8081/", "360p", 3, QUERY
        )
        body = b"".join([chunk async for chunk in answer.body_iterator])  # type: ignore[attr-defined]

    assert asked == [f"http://worker:8081/internal/hls/{SESSION}/360p/seg_00003.ts?{QUERY}"]
    assert (answer.status_code, body) == (200, b"\x47" * 188)
    lines = [record.getMessage() for record in production_logging.records] + [
        str(event) for event in ours
    ]
    assert [line for line in lines if "sig=" in line] == []


async def test_an_unreachable_worker_is_logged_without_the_signature(
    production_logging: pytest.LogCaptureFixture,
) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    with structlog.testing.capture_logs() as ours:
        answer = await _proxy(
            _request(httpx.MockTransport(unreachable)), "http://worker:8081", "360p", 3, QUERY
        )

    assert answer.status_code == 503
    assert ours == [
        {
            "event": "segment proxy failed",
            "log_level": "warning",
            "url": f"http://worker:8081/internal/hls/{SESSION}/360p/seg_00003.ts",
            "error": f"cannot reach http://worker:8081/internal/hls/{SESSION}/360p/seg_00003.ts?…",
        }
    ]
    lines = [record.getMessage() for record in production_logging.records]
    assert [line for line in lines if "sig=" in line] == []
