"""The Rego parental rule and the SQL-side rank table must decide alike."""

from __future__ import annotations

import itertools

import asyncpg
import pytest

from infra.authz.ratings import (
    RATING_RANKS,
    max_rank,
    normalize_rating,
    rank_visible,
    rating_rank,
    ratings_at_or_below,
)
from infra.authz.rego_engine import RegoEngine

ITEM_RATINGS = [*RATING_RANKS, None, "", "NR", "Unrated", " pg-13", "tv-ma", "Approved"]
PROFILE_LIMITS = [None, *RATING_RANKS]


@pytest.fixture(scope="module")
def rego() -> RegoEngine:
    return RegoEngine()


def test_ranks_follow_the_documented_ladder() -> None:
    assert [rating_rank(r) for r in ("G", "TV-Y", "TV-G", "U")] == [0, 0, 0, 0]
    assert [rating_rank(r) for r in ("PG", "TV-PG")] == [10, 10]
    assert [rating_rank(r) for r in ("PG-13", "TV-14", "12")] == [13, 13, 13]
    assert [rating_rank(r) for r in ("R", "TV-MA", "15", "16")] == [17, 17, 17, 17]
    assert [rating_rank(r) for r in ("NC-17", "18", "X")] == [18, 18, 18]
    assert rating_rank(" tv-ma ") == 17
    assert rating_rank("NR") is None
    assert rating_rank(None) is None


def test_the_rego_rank_table_equals_the_python_one(rego: RegoEngine) -> None:
    assert rego.evaluate("revenge/catalog/ranks", {}) == dict(RATING_RANKS)


def test_max_rank_refuses_an_unknown_limit() -> None:
    assert max_rank(None) is None
    assert max_rank("pg") == 10
    with pytest.raises(ValueError):
        max_rank("Approved")


def test_rego_and_the_sql_side_table_agree_on_every_rating_and_limit(rego: RegoEngine) -> None:
    disagreements = []
    for rating, limit, allow_unrated in itertools.product(
        ITEM_RATINGS, PROFILE_LIMITS, (False, True)
    ):
        input = {
            "item": {"rating": rating, "tags": []},
            "profile": {
                "max_rating": limit,
                "allow_unrated": allow_unrated,
                "blocked_tags": [],
                "allowed_tags": [],
            },
        }
        by_rego = rego.evaluate("revenge/catalog/allow", input)
        by_table = rank_visible(rating_rank(rating), max_rank(limit), allow_unrated)
        if by_rego is not by_table:
            disagreements.append((rating, limit, allow_unrated, by_rego, by_table))
    assert disagreements == []


async def test_the_sql_filter_built_from_the_table_matches_rego(
    pool: asyncpg.Pool, rego: RegoEngine
) -> None:
    ratings = [r for r in ITEM_RATINGS if r is not None]
    async with pool.acquire() as conn:
        for limit in ("G", "PG", "TV-14", "R", "NC-17"):
            rows = await conn.fetch(
                "SELECT r FROM unnest($1::text[]) AS r WHERE upper(btrim(r)) = ANY($2::text[])",
                ratings,
                ratings_at_or_below(max_rank(limit) or 0),
            )
            by_sql = sorted(row["r"] for row in rows)
            by_rego = sorted(
                r
                for r in ratings
                if rego.evaluate(
                    "revenge/catalog/allow",
                    {"item": {"rating": r, "tags": []}, "profile": {"max_rating": limit}},
                )
            )
            assert by_sql == by_rego, limit


def test_normalize_rating() -> None:
    assert normalize_rating(" pg-13\n") == "PG-13"
    assert normalize_rating(None) is None
