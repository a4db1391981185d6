"""OpaEngine against a local server speaking OPA's data API, answering with the same policies."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from infra.authz.rego_engine import OpaEngine, PolicyError, RegoEngine, open_policy_engine
from tests.infra.authz.cases import CATALOG_CASES, QAR_CASES, normalized
from tests.support.opa import opa_shaped_server


@pytest.fixture(scope="module")
def opa_server() -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    with opa_shaped_server(RegoEngine()) as server:
        yield server


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
