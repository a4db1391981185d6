"""Hypothesis fuzzes the body of ``POST /graphql`` itself: any JSON, request-shaped JSON whose
fields and variables hold odd values, deep nesting, and bytes that are not JSON at all.

Odd values are the ones that break servers: NUL, lone surrogates (sent as ``\\ud800`` escapes,
which is valid JSON), control and non-BMP characters, long strings, huge numbers. Whatever
arrives, the answer is JSON with status 200 or 400, no ``INTERNAL`` and no code-less error,
within the client's timeout; a body over the endpoint's 1 MB limit gets 413 instead.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.fuzz.answers import exchange
from tests.fuzz.bodies import JSON_VALUES, RAW_BYTES, graphql_requests, nested
from tests.fuzz.conftest import GRAPHQL_RESPONSE, Caller

STATUSES = frozenset({200, 400})
MAX_BODY_BYTES = 1_000_000
MAX_EXAMPLES = 60
PERSISTED_ZEROS = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}

# A failing example may hold a long string; its repr is long too, and that is no error.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

BODY_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


def post(http: httpx.Client, caller: Caller, body: bytes) -> list[str]:
    headers = {"content-type": "application/json", "accept": GRAPHQL_RESPONSE, **caller.headers}
    statuses = STATUSES if len(body) <= MAX_BODY_BYTES else frozenset({413})
    return exchange(http, body, headers, statuses)


def as_json(value: Any) -> bytes:
    """``ensure_ascii`` writes a lone surrogate as an escape, the way it goes over the wire."""
    return json.dumps(value, ensure_ascii=True).encode()


@pytest.mark.parametrize("caller_name", ["anonymous", "admin"])
def test_any_json_body_gets_a_json_answer(
    callers: dict[str, Caller], http: httpx.Client, caller_name: str
) -> None:
    @BODY_SETTINGS
    @given(value=JSON_VALUES)
    def one_body(value: Any) -> None:
        body = as_json(value)
        assert post(http, callers[caller_name], body) == [], body[:500]

    one_body()


@pytest.mark.parametrize("caller_name", ["anonymous", "admin"])
def test_request_shaped_bodies_with_odd_values_get_a_json_answer(
    callers: dict[str, Caller], http: httpx.Client, caller_name: str
) -> None:
    @settings(BODY_SETTINGS, max_examples=4 * MAX_EXAMPLES)
    @given(request=graphql_requests())
    # Always sent: a persisted query whose text holds a lone surrogate (hashing it must not fail).
    @example(request={"query": "{ me { id } }\ud800", "extensions": PERSISTED_ZEROS})
    @example(request={"query": "{ me { id } }", "operationName": "\ud800", "variables": {"\0": 1}})
    def one_request(request: dict[str, Any]) -> None:
        body = as_json(request)
        assert post(http, callers[caller_name], body) == [], body[:500]

    one_request()


def test_deeply_nested_json_gets_a_json_answer(
    callers: dict[str, Caller], http: httpx.Client
) -> None:
    @BODY_SETTINGS
    @given(depth=st.integers(1, 100_000), kind=st.sampled_from(["list", "map", "variables"]))
    def one_body(depth: int, kind: str) -> None:
        assert post(http, callers["admin"], nested(depth, kind).encode()) == [], (depth, kind)

    one_body()


def test_bytes_that_are_not_json_get_a_json_answer(
    callers: dict[str, Caller], http: httpx.Client
) -> None:
    @BODY_SETTINGS
    @given(body=RAW_BYTES)
    def one_body(body: bytes) -> None:
        assert post(http, callers["anonymous"], body) == [], body

    one_body()
