"""Which subgraphs make up the public API, and the composed schema built from them."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import Any

from gateway.composition import ComposedSchema, compose

__all__ = ["SCHEMA_FILE", "SUBGRAPHS", "composed_schema", "subgraph_schema", "subgraph_schemas"]

# name -> module holding the subgraph's ``schema`` (a strawberry.federation.Schema)
SUBGRAPHS: dict[str, str] = {
    "catalog": "subgraphs.catalog.schema",
    "user": "subgraphs.user.schema",
    "playback": "subgraphs.playback.schema",
}

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def subgraph_schema(name: str) -> Any:
    if name not in SUBGRAPHS:
        raise KeyError(f"unknown subgraph {name!r}; known: {', '.join(sorted(SUBGRAPHS))}")
    return importlib.import_module(SUBGRAPHS[name]).schema


def subgraph_schemas() -> list[tuple[str, Any]]:
    return [(name, subgraph_schema(name)) for name in SUBGRAPHS]


@cache
def composed_schema() -> ComposedSchema:
    return compose(subgraph_schemas())
