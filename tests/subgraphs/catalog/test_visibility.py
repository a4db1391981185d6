"""A federation entity reference obeys the same visibility as every other read."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from infra.authz.casbin_engine import ALL
from infra.authz.principal import Principal
from infra.authz.service import VisibilityFilter
from resolvers.catalog.scan_store import refresh_ratings
from subgraphs.catalog.schema import schema
from tests.subgraphs.catalog.conftest import make_context

KID = Principal(
    user_id="00000000-0000-7000-8000-0000000000c1",
    profile_id="00000000-0000-7000-8000-0000000000c2",
    roles=frozenset({"kids"}),
    scopes=frozenset({"catalog:read"}),
    auth_method="jwt",
    is_kids=True,
    max_rating="PG",
)
UP_TO_PG = VisibilityFilter(library_ids=ALL, max_rating_rank=10, allow_unrated=False)

ENTITIES = """query ($r: [_Any!]!) {
  _entities(representations: $r) { ... on MediaItem { title } }
}"""


async def test_an_entity_reference_to_a_hidden_item_resolves_to_null(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    library = await pool.fetchval(
        "INSERT INTO libraries (name, kind, root_paths) VALUES ('L', 'movies', ARRAY['/l']) "
        "RETURNING id"
    )
    ids = {}
    for title, rank in (("Cars", 0), ("Heat", 17)):
        ids[title] = await pool.fetchval(
            "INSERT INTO media_items (library_id, kind, title, sort_title, rating_rank) "
            "VALUES ($1, 'movie', $2, $2, $3) RETURNING id",
            library, title, rank,
        )  # fmt: skip
    async with pool.acquire() as conn:
        await refresh_ratings(conn, library)

    result = await schema.execute(
        ENTITIES,
        variable_values={
            "r": [{"__typename": "MediaItem", "id": str(ids[t])} for t in ("Cars", "Heat")]
        },
        context_value=make_context(pool, tmp_path, principal=KID, visibility=UP_TO_PG),
    )

    assert result.errors is None
    assert result.data == {"_entities": [{"title": "Cars"}, None]}
