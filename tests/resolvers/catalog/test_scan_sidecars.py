from __future__ import annotations

import asyncpg
import pytest

from infra.authz.rego_engine import RANKS_RULE, RegoEngine
from resolvers.catalog.scan_sidecars import rating_as_written, rating_rank, rerank
from resolvers.catalog.scan_store import refresh_ratings

RANKS = RegoEngine().evaluate(RANKS_RULE, {})  # the catalog policy's table


@pytest.mark.parametrize(
    ("mpaa", "written", "rank"),
    [
        ("PG-13", "PG-13", 13),
        ("Rated PG-13", "PG-13", 13),
        ("US:PG-13", "PG-13", 13),
        ("US:R / US:R", "R", 17),
        ("gb:15", "15", 17),
        ("rated g", "g", 0),
        ("Not Rated", "Not Rated", None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_nfo_certificates_are_read_as_the_rank_table_knows_them(
    mpaa: str | None, written: str | None, rank: int | None
) -> None:
    assert rating_as_written(mpaa) == written
    assert rating_rank(RANKS, mpaa) == rank


async def test_an_edited_rank_table_reaches_stored_ranks(pool: asyncpg.Pool) -> None:
    library = await pool.fetchval(
        "INSERT INTO libraries (name, kind, root_paths) VALUES ('L', 'movies', ARRAY['/l']) "
        "RETURNING id"
    )
    ids = {}
    for title, rating in (("Up", "Rated PG"), ("Heat", "US:R"), ("Home", None)):
        ids[title] = await pool.fetchval(
            "INSERT INTO media_items (library_id, kind, title, sort_title, official_rating, "
            "rating_rank) VALUES ($1, 'movie', $2, $2, $3, $4) RETURNING id",
            library, title, rating, rating_rank(RANKS, rating),
        )  # fmt: skip
    edited = {**RANKS, "PG": 5}

    async with pool.acquire() as conn:
        changed = await rerank(conn, library, edited)
        again = await rerank(conn, library, edited)
        await refresh_ratings(conn, library)
    rows = await pool.fetch("SELECT title, effective_rating_rank AS rank FROM media_items")

    assert (changed, again) == (1, 0)
    assert {row["title"]: row["rank"] for row in rows} == {"Up": 5, "Heat": 17, "Home": None}
