"""OpaEngine against a local server speaking OPA's data API, answering with the same policies."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from infra.authz.rego_engine import OpaEngine, PolicyError, RegoEngine, open_policy_engine
from tests.infra.authz.cases import CATALOG_CASES, QAR_CASES, normalized


def opa_shaped_app(policies: RegoEngine, seen: list[tuple[str, Any]]) -> Starlette:
    """``POST /v1/data/<path>`` with ``{"input": …}`` -> ``{"result": …}``, no ``result`` when
    undefined: OPA's data API, evaluated by regopy."""

    async def data(request: Request) -> JSONResponse:
        path = request.path_params["path"]
        body = await request.json()
        seen.append((path, body))
        result = policies.evaluate(path, body.get("input", {}))
        return JSONResponse({} if result is None else {"result": result})

    return Starlette(routes=[Route("/v1/data/{path:path}", data, methods=["POST"])])


@pytest.fixture(scope="module")
def opa_server() -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    seen: list[tuple[str, Any]] = []
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        opa_shaped_app(RegoEngine(), seen), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the OPA-shaped server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def rego() -> RegoEngine:
    return RegoEngine()


async def test_opa_and_regopy_decide_alike_on_every_case(
    opa_server: tuple[str, list[tuple[str, Any]]], rego: RegoEngine
) -> None:
    url, _ = opa_server
    opa = open_policy_engine(url)
    assert isinstance(opa, OpaEngine)
    try:
        for query, cases in (
            ("revenge/catalog/decision", CATALOG_CASES),
            ("revenge/qar/decision", QAR_CASES),
        ):
            for input, expected in cases:
                by_opa = normalized(await opa.decide(query, input))
                by_rego = normalized(await rego.decide(query, input))
                assert by_opa == by_rego == expected, input
    finally:
        await opa.aclose()
    median = opa.times.median()
    assert median is not None
    print(f"opa_http_decision_median {median * 1e6:.1f} us (loopback, Starlette+regopy server)")


async def test_the_request_has_opas_shape(opa_server: tuple[str, list[tuple[str, Any]]]) -> None:
    url, seen = opa_server
    opa = OpaEngine(url)
    try:
        answer = await opa.decide("data.revenge.qar.allow", {"scopes": [], "pin_unlocked": True})
        undefined = await opa.decide("revenge/catalog/item_rank", {"item": {"rating": None}})
    finally:
        await opa.aclose()

    assert answer is False
    assert undefined is None
    assert seen[-2] == ("revenge/qar/allow", {"input": {"scopes": [], "pin_unlocked": True}})


async def test_an_unreachable_opa_is_a_policy_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    opa = OpaEngine(f"http://127.0.0.1:{port}", retries=0)
    try:
        with pytest.raises(PolicyError):
            await opa.decide("revenge/qar/allow", {})
    finally:
        await opa.aclose()


def test_an_opa_url_with_a_path_prefix_is_refused() -> None:
    with pytest.raises(ValueError):
        OpaEngine("http://opa.internal:8181/prefix")
