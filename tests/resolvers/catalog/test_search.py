from __future__ import annotations

import asyncpg
import pytest

from infra.errors import BadUserInput
from resolvers.catalog.search import prefix_tsquery, search_items, search_words
from tests.support.catalog_rows import (
    add_credits,
    add_genres,
    insert_item,
    insert_library,
    refresh_search,
)


def test_prefix_tsquery_turns_words_into_prefix_terms() -> None:
    assert prefix_tsquery("Star Wa") == "star:* & wa:*"
    assert prefix_tsquery("  Amélie  ") == "amélie:*"
    assert prefix_tsquery("spider-man") == "spider:* & man:*"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'); DROP TABLE media_items; --", "drop:* & table:* & media:* & items:*"),
        ("a & b | !c", "a:* & b:* & c:*"),
        ("(x):*<->y", "x:* & y:*"),
        ("\\'\"", None),
        ("&|!():*", None),
        ("🎬🍿", None),
        ("🎬 up", "up:*"),
        ("", None),
    ],
)
def test_prefix_tsquery_never_passes_operators(text: str, expected: str | None) -> None:
    assert prefix_tsquery(text) == expected


def test_search_words_are_bounded() -> None:
    words = search_words("w" * 10_000 + " " + " ".join(f"x{n}" for n in range(100)))

    assert len(words) == 16
    assert words[0] == "w" * 64


@pytest.fixture
async def catalog(pool: asyncpg.Pool) -> None:
    movies = await insert_library(pool)
    shows = await insert_library(pool, name="Shows", kind="tv")
    star_wars = await insert_item(pool, movies, "Star Wars", year=1977)
    await add_credits(pool, star_wars, [("Harrison Ford", "actor", "Han Solo")])
    await add_genres(pool, star_wars, ["Science Fiction"])
    await insert_item(pool, movies, "Star", year=2001)
    stardust = await insert_item(pool, movies, "Stardust", year=2007)
    await add_credits(pool, stardust, [("Claire Danes", "actor", "Yvaine")])
    witness = await insert_item(pool, movies, "Witness", year=1985)
    await add_credits(pool, witness, [("Harrison Ford", "actor", "John Book")])
    await add_genres(pool, witness, ["Thriller"])
    trek = await insert_item(pool, shows, "Lost in Space", kind="series")
    await add_genres(pool, trek, ["Science Fiction"])
    await insert_item(pool, movies, "Star Wars Trailer", extra_type="trailer")
    await insert_item(pool, movies, "Star Gone", is_missing=True)
    await refresh_search(pool)


async def _search(pool: asyncpg.Pool, text: str, first: int = 20) -> list[str]:
    return [row["title"] for row in await search_items(pool, text, first)]


async def test_exact_title_first_then_rank(pool: asyncpg.Pool, catalog: None) -> None:
    # "Star" is exact; "Star Wars" and "Stardust" match the prefix in the title.
    results = await _search(pool, "star")

    assert results[0] == "Star"
    assert sorted(results[1:]) == ["Star Wars", "Stardust"]
    assert await _search(pool, "STAR wars") == ["Star Wars"]


async def test_title_matches_rank_above_people_and_genres(
    pool: asyncpg.Pool, catalog: None
) -> None:
    assert await _search(pool, "harr") == ["Star Wars", "Witness"]
    assert await _search(pool, "science") == ["Lost in Space", "Star Wars"]
    assert await _search(pool, "ford wit") == ["Witness"]


async def test_title_beats_genre(pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool)
    by_genre = await insert_item(pool, library_id, "Alpha")
    await add_genres(pool, by_genre, ["Thriller"])
    await insert_item(pool, library_id, "Thriller Night")
    await refresh_search(pool)

    assert await _search(pool, "thrill") == ["Thriller Night", "Alpha"]


@pytest.mark.parametrize(
    "text",
    ["", "   ", "&|!():*", "'\"", "🎬🍿", "<->", "\\", "\x00"],
)
async def test_queries_without_words_return_nothing(
    pool: asyncpg.Pool, catalog: None, text: str
) -> None:
    assert await _search(pool, text) == []


@pytest.mark.parametrize(
    "text",
    ["star'", "'star", "star & | !", "(star)", "star:*", "🎬 star 🍿", "star\\", '"star"', "!star"],
)
async def test_odd_input_around_words_still_searches(
    pool: asyncpg.Pool, catalog: None, text: str
) -> None:
    assert "Star Wars" in await _search(pool, text)


async def test_ten_kilobyte_query(pool: asyncpg.Pool, catalog: None) -> None:
    assert (await _search(pool, "star " * 2000))[0] == "Star"
    assert await _search(pool, "wars " * 2048) == ["Star Wars"]
    assert await _search(pool, "x" * 10_240) == []
    assert await _search(pool, "&" * 10_240) == []


async def test_first_bounds(pool: asyncpg.Pool, catalog: None) -> None:
    assert len(await _search(pool, "star", first=1)) == 1
    with pytest.raises(BadUserInput):
        await search_items(pool, "star", 0)
    with pytest.raises(BadUserInput):
        await search_items(pool, "star", 101)
