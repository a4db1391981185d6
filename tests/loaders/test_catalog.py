from __future__ import annotations

import asyncio
import uuid

import asyncpg

from infra.authz.service import VisibilityFilter
from loaders.catalog import CatalogLoaders
from tests.support.catalog_rows import (
    StatementCountingPool,
    add_credits,
    add_genres,
    insert_file,
    insert_image,
    insert_item,
    insert_library,
    insert_scan,
    insert_stream,
)


async def test_single_row_loaders_answer_in_key_order_with_none_for_misses(
    pool: asyncpg.Pool,
) -> None:
    library_id = await insert_library(pool)
    alien = await insert_item(pool, library_id, "Alien")
    brazil = await insert_item(pool, library_id, "Brazil")
    unknown = uuid.uuid4()
    counting = StatementCountingPool(pool)
    loaders = CatalogLoaders(counting)

    rows = await asyncio.gather(
        *(loaders.media_item_by_id.load(key) for key in (brazil, unknown, alien, brazil))
    )

    assert [row["title"] if row else None for row in rows] == ["Brazil", None, "Alien", "Brazil"]
    assert len(counting.statements) == 1
    assert (await loaders.library_by_id.load(library_id))["name"] == "Movies"


async def test_list_loaders_group_rows_per_key_in_order(pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool)
    alien = await insert_item(pool, library_id, "Alien")
    empty = await insert_item(pool, library_id, "Empty")
    part_2 = await insert_file(pool, alien, library_id, "/m/Alien/b.mkv", part_number=2)
    part_1 = await insert_file(pool, alien, library_id, "/m/Alien/a.mkv", part_number=1)
    await insert_stream(pool, part_1, 1, "audio", codec="aac")
    await insert_stream(pool, part_1, 0, "video", codec="h264")
    await insert_image(pool, alien, "poster", "/i/p.jpg", width=10)
    await add_genres(pool, alien, ["Sci-Fi", "Horror"])
    await add_credits(
        pool, alien, [("Ridley Scott", "director", None), ("Sigourney Weaver", "actor", "Ripley")]
    )
    counting = StatementCountingPool(pool)
    loaders = CatalogLoaders(counting)

    files = await asyncio.gather(
        loaders.files_by_item_id.load(alien), loaders.files_by_item_id.load(empty)
    )
    streams = await asyncio.gather(
        loaders.streams_by_file_id.load(part_1), loaders.streams_by_file_id.load(part_2)
    )
    images = await loaders.images_by_item_id.load(alien)
    genres = await asyncio.gather(
        loaders.genres_by_item_id.load(empty), loaders.genres_by_item_id.load(alien)
    )
    credits = await loaders.credits_by_item_id.load(alien)

    assert [f["id"] for f in files[0]] == [part_1, part_2]
    assert files[1] == []
    assert [s["codec"] for s in streams[0]] == ["h264", "aac"]
    assert streams[1] == []
    assert [i["width"] for i in images] == [10]
    assert genres[0] == []
    assert [g["name"] for g in genres[1]] == ["Horror", "Sci-Fi"]
    assert [(c["person_name"], c["role"], c["character"]) for c in credits] == [
        ("Ridley Scott", "director", None),
        ("Sigourney Weaver", "actor", "Ripley"),
    ]
    assert len(counting.statements) == 5


async def test_item_count_and_latest_scan_by_library(pool: asyncpg.Pool) -> None:
    movies = await insert_library(pool)
    music = await insert_library(pool, name="Music", kind="music")
    empty = await insert_library(pool, name="Empty")
    await insert_item(pool, movies, "Alien")
    await insert_item(pool, movies, "Gone", is_missing=True)
    alien = await pool.fetchval("SELECT id FROM media_items WHERE title = 'Alien'")
    await insert_item(pool, movies, "Trailer", parent_id=alien, extra_type="trailer")
    artist = await insert_item(pool, music, "Bowie", kind="artist")
    album = await insert_item(pool, music, "Low", kind="album", parent_id=artist)
    await insert_item(pool, music, "Warszawa", kind="track", parent_id=album)
    await insert_scan(pool, movies, "completed")
    running = await insert_scan(pool, movies, "running")
    loaders = CatalogLoaders(pool)

    counts = await asyncio.gather(
        *(loaders.item_count_by_library_id.load(key) for key in (movies, music, empty))
    )
    scans = await asyncio.gather(
        loaders.latest_scan_by_library_id.load(movies),
        loaders.latest_scan_by_library_id.load(empty),
    )

    assert counts == [1, 2, 0]
    assert scans[0]["id"] == running
    assert scans[1] is None
    assert (await loaders.scan_by_id.load(running))["status"] == "running"


async def test_loaders_and_visibility_are_made_when_first_asked_for(pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool)
    other = await insert_library(pool, "Other")
    alien = await insert_item(pool, library_id, "Alien")
    hidden = await insert_item(pool, other, "Brazil")
    asked: list[str] = []

    def visibility() -> VisibilityFilter:
        asked.append("visibility")
        return VisibilityFilter(library_ids=frozenset({str(library_id)}))

    loaders = CatalogLoaders(pool, visibility)
    assert asked == [] and "media_item_by_id" not in vars(loaders)  # a heartbeat pays nothing
    scans = loaders.scan_by_id  # needs no visibility
    assert asked == [] and loaders.scan_by_id is scans
    found = await loaders.media_item_by_id.load_many([alien, hidden])
    assert [row["title"] if row else None for row in found] == ["Alien", None]
    assert loaders.visibility.library_ids == frozenset({str(library_id)})
    await loaders.library_by_id.load(library_id)
    assert asked == ["visibility"]  # worked out once, for every loader that needs it
