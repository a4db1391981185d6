"""Our in-process composition must agree with a real federation composer.

Every subgraph's SDL (as its ``_service`` field reports it, exactly what a router reads) goes to
``@theguild/federation-composition`` from npm; the public API schema it produces must equal the
schema the gateway composes in-process, and ``schema.graphql`` must equal both.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from graphql import build_schema, lexicographic_sort_schema, print_schema

from gateway.composition import compose
from gateway.schema import SCHEMA_FILE, composed_schema, subgraph_schemas
from tests.gateway.conftest import JS_DIR
from tests.gateway.fixture_subgraphs import SUBGRAPHS as FIXTURE_SUBGRAPHS


def service_sdl(schema: Any) -> str:
    result = schema.execute_sync("{ _service { sdl } }")
    assert result.errors is None
    sdl: str = result.data["_service"]["sdl"]
    return sdl


def compose_with_npm(subgraphs: list[tuple[str, Any]]) -> dict[str, Any]:
    payload = json.dumps([{"name": n, "sdl": service_sdl(s)} for n, s in subgraphs])
    completed = subprocess.run(
        ["node", "compose.mjs"],
        cwd=JS_DIR,
        input=payload,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def normalized(sdl: str) -> str:
    return print_schema(lexicographic_sort_schema(build_schema(sdl)))


def test_the_real_composer_accepts_every_subgraph_and_agrees_with_ours(
    node_modules: Path,
) -> None:
    subgraphs = subgraph_schemas()
    result = compose_with_npm(subgraphs)

    assert result["errors"] == []
    assert normalized(result["publicSdl"]) == normalized(composed_schema().sdl())


def test_schema_graphql_is_up_to_date() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == composed_schema().sdl(), "schema.graphql is stale: run `revenge schema`"


def test_cross_subgraph_entities_compose_the_same_way_in_both(node_modules: Path) -> None:
    result = compose_with_npm(list(FIXTURE_SUBGRAPHS))

    assert result["errors"] == []
    ours = compose(FIXTURE_SUBGRAPHS).sdl()
    assert normalized(result["publicSdl"]) == normalized(ours)
    assert "reviews" in ours  # a field one subgraph adds to another's entity


def test_the_real_composer_rejects_what_ours_rejects(node_modules: Path) -> None:
    # Both fixture subgraphs twice under other names: duplicate root fields.
    doubled = [*FIXTURE_SUBGRAPHS, *((f"{n}-copy", s) for n, s in FIXTURE_SUBGRAPHS)]
    result = compose_with_npm(doubled)
    assert result["errors"] != []
