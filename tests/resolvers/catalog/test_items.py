from __future__ import annotations

import datetime
import uuid

import asyncpg
import pytest

from infra.errors import BadUserInput
from resolvers.catalog.items import ItemFilter, list_children, list_items
from tests.support.catalog_rows import (
    add_genres,
    insert_item,
    insert_library,
    refresh_search,
)

NOW = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.UTC)


async def _titles(pool: asyncpg.Pool, item_filter: ItemFilter, **options: object) -> list[str]:
    page = await list_items(pool, item_filter, **options)  # type: ignore[arg-type]
    return [row["title"] for row in page.rows]


async def _walk(pool: asyncpg.Pool, item_filter: ItemFilter, first: int, **options: object):
    """Every page until the end: the titles of each page, in order."""
    pages: list[list[str]] = []
    after = None
    while True:
        page = await list_items(pool, item_filter, first=first, after=after, **options)  # type: ignore[arg-type]
        pages.append([row["title"] for row in page.rows])
        if not page.has_next_page:
            return pages
        after = page.end_cursor


@pytest.fixture
async def library(pool: asyncpg.Pool) -> uuid.UUID:
    """Five movies with distinct years, dates and genres; one missing, one extra."""
    library_id = await insert_library(pool)
    movies = [
        ("Alien", 1979, datetime.date(1979, 5, 25), 5, ["Horror", "Science Fiction"]),
        ("Brazil", 1985, datetime.date(1985, 2, 20), 4, ["Comedy"]),
        ("Casablanca", 1942, None, 3, ["Drama", "Romance"]),
        ("Dune", None, datetime.date(2021, 10, 22), 2, ["Science Fiction"]),
        ("Eraserhead", 1977, datetime.date(1977, 3, 19), 1, ["Horror"]),
    ]
    for title, year, premiere, days_ago, genres in movies:
        item_id = await insert_item(
            pool,
            library_id,
            title,
            year=year,
            premiere_date=premiere,
            date_added=NOW - datetime.timedelta(days=days_ago),
        )
        await add_genres(pool, item_id, genres)
    await insert_item(pool, library_id, "Fargo", year=1996, is_missing=True)
    alien = await pool.fetchval("SELECT id FROM media_items WHERE title = 'Alien'")
    await insert_item(pool, library_id, "Alien Trailer", parent_id=alien, extra_type="trailer")
    await refresh_search(pool)
    return library_id


async def test_title_sort_lists_present_items_without_extras(
    pool: asyncpg.Pool, library: uuid.UUID
) -> None:
    page = await list_items(pool, ItemFilter(library_id=library))

    assert [row["title"] for row in page.rows] == [
        "Alien",
        "Brazil",
        "Casablanca",
        "Dune",
        "Eraserhead",
    ]
    assert await page.count() == 5
    assert page.has_next_page is False


async def test_each_sort_and_direction(pool: asyncpg.Pool, library: uuid.UUID) -> None:
    in_library = ItemFilter(library_id=library)

    assert await _titles(pool, in_library, direction="desc") == [
        "Eraserhead",
        "Dune",
        "Casablanca",
        "Brazil",
        "Alien",
    ]
    assert await _titles(pool, in_library, sort="date_added") == [
        "Alien",
        "Brazil",
        "Casablanca",
        "Dune",
        "Eraserhead",
    ]
    assert await _titles(pool, in_library, sort="date_added", direction="desc") == [
        "Eraserhead",
        "Dune",
        "Casablanca",
        "Brazil",
        "Alien",
    ]
    # Unknown years and dates come last in both directions.
    assert await _titles(pool, in_library, sort="year") == [
        "Casablanca",
        "Eraserhead",
        "Alien",
        "Brazil",
        "Dune",
    ]
    assert await _titles(pool, in_library, sort="year", direction="desc") == [
        "Brazil",
        "Alien",
        "Eraserhead",
        "Casablanca",
        "Dune",
    ]
    assert await _titles(pool, in_library, sort="premiere_date") == [
        "Eraserhead",
        "Alien",
        "Brazil",
        "Dune",
        "Casablanca",
    ]
    assert await _titles(pool, in_library, sort="premiere_date", direction="desc") == [
        "Dune",
        "Brazil",
        "Alien",
        "Eraserhead",
        "Casablanca",
    ]


@pytest.mark.parametrize(
    ("sort", "direction"),
    [
        ("title", "asc"),
        ("title", "desc"),
        ("date_added", "desc"),
        ("year", "asc"),
        ("year", "desc"),
        ("premiere_date", "asc"),
        ("premiere_date", "desc"),
    ],
)
async def test_pages_join_into_the_full_order_without_duplicates_or_gaps(
    pool: asyncpg.Pool, library: uuid.UUID, sort: str, direction: str
) -> None:
    in_library = ItemFilter(library_id=library)
    everything = await _titles(pool, in_library, sort=sort, direction=direction)

    for first in (1, 2, 3):
        pages = await _walk(pool, in_library, first, sort=sort, direction=direction)
        assert [title for page in pages for title in page] == everything
        assert all(len(page) == first for page in pages[:-1])


async def test_pagination_breaks_ties_by_id(pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool)
    ids = sorted([await insert_item(pool, library_id, "Same", year=2000) for _ in range(7)])

    seen: list[uuid.UUID] = []
    after = None
    while True:
        page = await list_items(
            pool, ItemFilter(library_id=library_id), sort="year", first=2, after=after
        )
        seen.extend(row["id"] for row in page.rows)
        if not page.has_next_page:
            break
        after = page.end_cursor

    assert seen == ids


async def test_random_sort_is_stable_across_pages(pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool)
    titles = [f"Movie {n:02}" for n in range(30)]
    for title in titles:
        await insert_item(pool, library_id, title)
    in_library = ItemFilter(library_id=library_id)

    walked = [title for page in await _walk(pool, in_library, 7, sort="random") for title in page]
    other = [title for page in await _walk(pool, in_library, 7, sort="random") for title in page]

    assert sorted(walked) == titles
    assert len(set(walked)) == 30
    assert walked != titles  # shuffled (1 chance in 30! of failing)
    assert walked != other  # each listing draws its own seed


async def test_filters(pool: asyncpg.Pool, library: uuid.UUID) -> None:
    assert await _titles(pool, ItemFilter(library_id=library, year_from=1978, year_to=1990)) == [
        "Alien",
        "Brazil",
    ]
    assert await _titles(pool, ItemFilter(genre="science fiction")) == ["Alien", "Dune"]
    assert await _titles(pool, ItemFilter(text="era")) == ["Eraserhead"]
    assert await _titles(pool, ItemFilter(text="horr")) == ["Alien", "Eraserhead"]
    assert await _titles(pool, ItemFilter(text="?!")) == []
    assert await _titles(pool, ItemFilter(text="  ")) == [
        "Alien",
        "Brazil",
        "Casablanca",
        "Dune",
        "Eraserhead",
    ]
    assert await _titles(pool, ItemFilter(include_missing=True)) == [
        "Alien",
        "Brazil",
        "Casablanca",
        "Dune",
        "Eraserhead",
        "Fargo",
    ]
    assert await _titles(pool, ItemFilter(include_extras=True, kinds=["movie"], year_to=1980)) == [
        "Alien",
        "Casablanca",
        "Eraserhead",
    ]
    assert await _titles(pool, ItemFilter(include_extras=True)) == [
        "Alien",
        "Alien Trailer",
        "Brazil",
        "Casablanca",
        "Dune",
        "Eraserhead",
    ]
    assert await _titles(pool, ItemFilter(library_id=uuid.uuid4())) == []


async def test_kinds_and_children(pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool, name="Shows", kind="tv")
    series = await insert_item(pool, library_id, "Lost", kind="series")
    season_2 = await insert_item(
        pool, library_id, "Season 2", kind="season", parent_id=series, season_number=2
    )
    season_1 = await insert_item(
        pool, library_id, "Season 1", kind="season", parent_id=series, season_number=1
    )
    for number, title in [(2, "Cabin Fever"), (1, "Pilot"), (10, "Raised by Another")]:
        await insert_item(
            pool,
            library_id,
            title,
            kind="episode",
            parent_id=season_1,
            series_id=series,
            season_number=1,
            episode_number=number,
        )

    assert await _titles(pool, ItemFilter(kinds=["series", "season"])) == [
        "Lost",
        "Season 1",
        "Season 2",
    ]
    seasons = await list_children(pool, series)
    assert [row["id"] for row in seasons.rows] == [season_1, season_2]
    episodes = await list_children(pool, season_1, first=2)
    assert [row["title"] for row in episodes.rows] == ["Pilot", "Cabin Fever"]
    assert await episodes.count() == 3
    rest = await list_children(pool, season_1, first=2, after=episodes.end_cursor)
    assert [row["title"] for row in rest.rows] == ["Raised by Another"]
    assert rest.has_next_page is False


@pytest.mark.parametrize("first", [0, -1, 501])
async def test_first_out_of_range_is_bad_input(pool: asyncpg.Pool, first: int) -> None:
    with pytest.raises(BadUserInput):
        await list_items(pool, ItemFilter(), first=first)


@pytest.mark.parametrize(
    "after",
    [
        "not a cursor",
        "eyJzIjoidGl0bGUifQ",  # {"s":"title"} without values
        "W10",  # []
        "x" * 5000,
    ],
)
async def test_malformed_cursor_is_bad_input(pool: asyncpg.Pool, after: str) -> None:
    with pytest.raises(BadUserInput):
        await list_items(pool, ItemFilter(), after=after)


async def test_cursor_from_another_sort_is_bad_input(
    pool: asyncpg.Pool, library: uuid.UUID
) -> None:
    page = await list_items(pool, ItemFilter(library_id=library), first=1)

    with pytest.raises(BadUserInput):
        await list_items(pool, ItemFilter(library_id=library), sort="year", after=page.end_cursor)
    with pytest.raises(BadUserInput):
        await list_items(
            pool, ItemFilter(library_id=library), direction="desc", after=page.end_cursor
        )
