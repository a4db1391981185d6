"""A local server answering OPA's data API (``POST /v1/data/<path>`` with ``{"input": …}``) by
evaluating a folder of policies with regopy: OPA's HTTP shape without an OPA binary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from infra.authz.rego_engine import RegoEngine
from tests.support.asgi_server import running

__all__ = ["opa_shaped_app", "opa_shaped_server"]


def opa_shaped_app(policies: RegoEngine, seen: list[tuple[str, Any]]) -> Starlette:
    """``{"result": …}``, no ``result`` when undefined, as OPA answers."""

    async def data(request: Request) -> JSONResponse:
        path = request.path_params["path"]
        body = await request.json()
        seen.append((path, body))
        result = policies.evaluate(path, body.get("input", {}))
        return JSONResponse({} if result is None else {"result": result})

    return Starlette(routes=[Route("/v1/data/{path:path}", data, methods=["POST"])])


@contextmanager
def opa_shaped_server(policies: RegoEngine) -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    """The server on a free loopback port: its URL and the (path, body) of every request."""
    seen: list[tuple[str, Any]] = []
    with running(opa_shaped_app(policies, seen)) as served:
        yield served.url, seen
