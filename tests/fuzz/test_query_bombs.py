"""Small documents that expand enormously (fragments spreading fragments, wide and deep) are
answered within the request timeout, never computed to the end.

Hypothesis picks the shape; the explicit examples are bombs of billions of fields. They run on
an app of their own: a request that hangs would keep that app's event loop busy, and the other
fuzzers' app must stay free.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.fuzz.answers import exchange
from tests.fuzz.conftest import GRAPHQL_RESPONSE, REQUEST_TIMEOUT_S
from tests.gateway.test_app import running_app


def fragment_bomb(levels: int, width: int) -> str:
    """``f0`` spreads ``f1`` ``width`` times, ``f1`` spreads ``f2`` …: ``width**levels`` leaves."""
    fragments = [
        f"fragment f{level} on Query {{ {' '.join([f'...f{level + 1}'] * width)} }}"
        for level in range(levels - 1)
    ]
    fragments.append(f"fragment f{levels - 1} on Query {{ __typename }}")
    return "query { ...f0 } " + " ".join(fragments)


@pytest.fixture
def bomb_client(pool: object, database_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    with (
        running_app(database_url, tmp_path / "data", REVENGE_WORKER_IN_PROCESS="false") as app,
        httpx.Client(base_url=app.url, timeout=REQUEST_TIMEOUT_S) as client,
    ):
        yield client


def test_fragment_bombs_are_answered_in_time(bomb_client: httpx.Client) -> None:
    @settings(
        max_examples=20,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(levels=st.integers(1, 40), width=st.integers(1, 12))
    @example(levels=20, width=3)
    @example(levels=30, width=2)
    @example(levels=12, width=10)
    def one_bomb(levels: int, width: int) -> None:
        body = json.dumps({"query": fragment_bomb(levels, width)}).encode()
        headers = {"content-type": "application/json", "accept": GRAPHQL_RESPONSE}
        found = exchange(bomb_client, body, headers, frozenset({200, 400}))
        assert found == [], f"{width} spreads, {levels} levels"

    one_bomb()
