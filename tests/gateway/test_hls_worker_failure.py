"""A worker that fails while making a segment: the player gets the gateway's own coded 502, never
the worker's 5xx."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gateway.hls_routes import _proxy
from tests.support.asgi_server import running

SESSION = "00000000-0000-7000-8000-000000000001"


async def _broken(request: Request) -> Response:
    return PlainTextResponse("Internal Server Error", status_code=500)


async def _gone(request: Request) -> Response:
    return Response(b'{"code":"NOT_FOUND"}', status_code=404, media_type="application/json")


WORKER = Starlette(
    routes=[
        Route(f"/internal/hls/{SESSION}/v0/seg_00000.ts", _broken),
        Route(f"/internal/hls/{SESSION}/v0/seg_00001.ts", _gone),
    ]
)


def _request(client: httpx.AsyncClient) -> Request:
    app = Starlette()
    app.state.services = {"http": client}
    scope = {
        "type": "http", "method": "GET", "path": f"/hls/{SESSION}/v0/seg_00000.ts",
        "headers": [], "query_string": b"", "app": app,
        "path_params": {"session_id": SESSION},
    }  # fmt: skip
    return Request(scope)


async def test_a_failing_worker_is_a_coded_502_and_its_4xx_passes_through() -> None:
    with running(WORKER) as worker:
        async with httpx.AsyncClient() as client:
            failed = await _proxy(_request(client), worker.url, "v0", 0, "")
            gone = await _proxy(_request(client), worker.url, "v0", 1, "")

    assert failed.status_code == 502
    assert (
        failed.body
        == b'{"code":"WORKER_FAILED","message":"the worker making this segment failed; try again"}'
    )
    assert (gone.status_code, gone.body) == (404, b'{"code":"NOT_FOUND"}')
