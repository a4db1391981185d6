"""The library grid's query costs a constant, small number of SQL statements.

This is the performance contract of the catalog read side: a page of N items with files,
streams, images, genres and people runs the same statements at N = 10, 50 and 200, because
every relation goes through a batch loader.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from subgraphs.catalog.schema import schema
from tests.subgraphs.catalog.conftest import make_context
from tests.support.catalog_rows import StatementCountingPool, insert_movie_library

GRID_QUERY = """
query Grid($libraryId: ID!, $first: Int!) {
  items(libraryId: $libraryId, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id kind title year
        files { id path container streams { codec width height channels language } }
        images { type width height blurhash }
        genres { name }
        people { role person { name } }
      }
    }
  }
}
"""


async def _run_grid(pool: asyncpg.Pool, tmp_path: Path, library_id: str, first: int):
    counting = StatementCountingPool(pool)
    result = await schema.execute(
        GRID_QUERY,
        variable_values={"libraryId": library_id, "first": first},
        context_value=make_context(counting, tmp_path),
    )
    assert result.errors is None
    return result.data, counting.statements


async def test_grid_query_runs_the_same_few_statements_for_any_page_size(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    library_id = str(await insert_movie_library(pool, 200))
    await _run_grid(pool, tmp_path, library_id, 1)  # warm asyncpg's type introspection

    counts = {}
    seen = {}
    for first in (10, 50, 200):
        data, statements = await _run_grid(pool, tmp_path, library_id, first)
        counts[first] = len(statements)
        seen[first] = [" ".join(s.split())[:90] for s in statements]
        edges = data["items"]["edges"]
        assert len(edges) == first
        assert data["items"]["totalCount"] == 200
        assert data["items"]["pageInfo"]["hasNextPage"] is (first < 200)
        assert all(len(edge["node"]["files"]) == 2 for edge in edges)
        assert all(len(f["streams"]) == 3 for e in edges for f in e["node"]["files"])
        assert all(len(edge["node"]["images"]) == 2 for edge in edges)
        assert all(len(edge["node"]["genres"]) == 3 for edge in edges)
        assert all(len(edge["node"]["people"]) == 4 for edge in edges)

    print("statement counts", counts)
    assert counts[10] == counts[50] == counts[200], seen
    assert counts[10] <= 8


async def test_grid_query_statements_are_one_per_relation(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    library_id = str(await insert_movie_library(pool, 20))
    await _run_grid(pool, tmp_path, library_id, 1)

    _, statements = await _run_grid(pool, tmp_path, library_id, 20)

    tables = sorted(
        next(word for word in statement.split() if word.startswith(("media_", "libraries")))
        for statement in statements
    )
    assert len(statements) == 7
    assert tables == [
        "media_files",
        "media_images",
        "media_item_genres",
        "media_item_people",
        "media_items",
        "media_items",
        "media_streams",
    ]
