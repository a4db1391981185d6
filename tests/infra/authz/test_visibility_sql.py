"""The SQL built from the policy's ``visibility`` answer shows exactly the items the policy's
per-item ``decision`` allows: every rating of the table (and unknown ones) against every limit,
kids cap and ``allow_unrated``, stored as the scanner stores them, on real PostgreSQL."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import asyncpg

from infra.authz.casbin_engine import CasbinEngine
from infra.authz.principal import Principal
from infra.authz.rego_engine import RANKS_RULE, RegoEngine
from infra.authz.service import AuthorizationService
from loaders.visibility import visibility_conditions
from resolvers.catalog.scan_sidecars import rating_rank
from resolvers.catalog.scan_store import refresh_ratings

REGO = RegoEngine()
RANKS: dict[str, int] = REGO.evaluate(RANKS_RULE, {})
ITEM_RATINGS = [*RANKS, None, "NR", "Unrated", " pg-13", "tv-ma", "Approved"]
LIMITS = [None, "G", "TV-Y7", "PG", "PG-13", "R", "NC-17", "Approved"]


def item(rating: str | None) -> dict[str, Any]:
    return {"rating": rating, "tags": []}


async def stored_items(pool: asyncpg.Pool) -> dict[uuid.UUID, str | None]:
    library = await pool.fetchval(
        "INSERT INTO libraries (name, kind, root_paths) VALUES ('All', 'movies', ARRAY['/a']) "
        "RETURNING id"
    )
    ratings: dict[uuid.UUID, str | None] = {}
    for n, rating in enumerate(ITEM_RATINGS):
        item_id = await pool.fetchval(
            "INSERT INTO media_items (library_id, kind, title, sort_title, official_rating, "
            "rating_rank) VALUES ($1, 'movie', $2, $2, $3, $4) RETURNING id",
            library, f"film {n}", rating, rating_rank(RANKS, rating),
        )  # fmt: skip
        ratings[item_id] = rating
    async with pool.acquire() as conn:
        await refresh_ratings(conn, library)
    return ratings


async def visible_by_sql(pool: asyncpg.Pool, service: AuthorizationService, who: Principal) -> Any:
    params: list[Any] = []

    def add(value: Any, sql_type: str) -> str:
        params.append(value)
        return f"${len(params)}::{sql_type}"

    conditions = visibility_conditions(await service.visibility(who), add)
    rows = await pool.fetch(
        "SELECT id FROM media_items AS i WHERE " + (" AND ".join(conditions) or "true"), *params
    )
    return {row["id"] for row in rows}


async def test_sql_and_per_item_decisions_agree(pool: asyncpg.Pool) -> None:
    ratings = await stored_items(pool)
    # Kids act as the kids role only: let it read every library, so ratings alone decide.
    service = AuthorizationService(CasbinEngine([("p", "role:kids", "*", "catalog", "read")]), REGO)
    disagreements = []
    for limit, allow_unrated, is_kids in itertools.product(LIMITS, (False, True), (False, True)):
        who = Principal(
            str(uuid.uuid4()), roles=frozenset({"user"}), scopes=frozenset({"catalog:read"}),
            max_rating=limit, allow_unrated=allow_unrated, is_kids=is_kids,
        )  # fmt: skip
        profile = {"max_rating": limit, "allow_unrated": allow_unrated, "is_kids": is_kids,
                   "blocked_tags": [], "allowed_tags": []}  # fmt: skip
        by_rego = {
            item_id
            for item_id, rating in ratings.items()
            if REGO.evaluate(
                "revenge/catalog/allow",
                {"item": {"rating": rating, "tags": []}, "profile": profile},
            )
        }
        by_sql = await visible_by_sql(pool, service, who)
        if by_sql != by_rego:
            disagreements.append((limit, allow_unrated, is_kids))
    assert disagreements == []
