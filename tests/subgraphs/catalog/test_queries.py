from __future__ import annotations

import datetime
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from infra.authz.principal import Principal
from infra.signing import StreamSigner
from subgraphs.catalog.schema import schema
from tests.subgraphs.catalog.conftest import Execute, error_codes, make_context
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
    refresh_search,
)

ADDED = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.UTC)

ITEM_QUERY = """
query Item($id: ID!) {
  item(id: $id) {
    id kind title sortTitle originalTitle year premiereDate overview runtimeMs officialRating
    seasonNumber episodeNumber episodeNumberEnd trackNumber discNumber albumArtist extraType
    isMissing error dateAdded
    providerIds { provider value }
    library { name kind itemCount }
    parent { title }
    series { id title }
    season { title seasonNumber }
    genres { name }
    people { role character order person { name } }
    images { type width height blurhash url }
    files {
      fileName path size container durationMs bitrate partNumber versionName probeError isMissing
      streams {
        index type codec profile level bitDepth width height frameRate hdrType channels
        channelLayout language title isDefault isForced isHearingImpaired isExternal bitrate
      }
    }
  }
}
"""


async def test_item_with_everything(execute: Execute, pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool, name="Shows", kind="tv")
    series = await insert_item(pool, library_id, "Lost", kind="series")
    season = await insert_item(
        pool,
        library_id,
        "Season 1",
        kind="season",
        parent_id=series,
        series_id=series,
        season_number=1,
    )
    episode = await insert_item(
        pool,
        library_id,
        "Pilot",
        kind="episode",
        parent_id=season,
        series_id=series,
        sort_title="Pilot, The",
        original_title="Pilot (1)",
        year=2004,
        premiere_date=datetime.date(2004, 9, 22),
        overview="A plane crashes.",
        runtime_ms=2_520_000,
        official_rating="TV-14",
        season_number=1,
        episode_number=1,
        episode_number_end=2,
        provider_ids={"tvdb": "127131", "imdb": "tt0636289"},
        date_added=ADDED,
    )
    await add_genres(pool, episode, ["Drama", "Adventure"])
    await add_credits(
        pool, episode, [("J. J. Abrams", "director", None), ("Evangeline Lilly", "actor", "Kate")]
    )
    image_id = await insert_image(
        pool, episode, "thumb", "/i/t.jpg", width=400, height=225, blurhash="LKO2?U%2Tw=w"
    )
    await insert_image(pool, episode, "fanart-unknown", "/i/x.jpg")
    file_id = await insert_file(
        pool,
        episode,
        library_id,
        "/tv/Lost/S01E01-E02.mkv",
        size=5_000_000_000,
        container="matroska",
        duration_ms=2_520_000,
        bitrate=15_000_000,
        version_name="1080p",
    )
    await insert_stream(
        pool,
        file_id,
        0,
        "video",
        codec="hevc",
        profile="Main 10",
        level=150,
        bit_depth=10,
        width=1920,
        height=1080,
        frame_rate=23.976,
        hdr_type="hdr10",
        is_default=True,
        bitrate=14_000_000,
    )
    await insert_stream(
        pool,
        file_id,
        1,
        "subtitle",
        codec="subrip",
        language="eng",
        title="SDH",
        is_forced=False,
        is_hearing_impaired=True,
        is_external=True,
    )

    result = await execute(ITEM_QUERY, id=str(episode))

    assert result.errors is None
    assert result.data == {
        "item": {
            "id": str(episode),
            "kind": "EPISODE",
            "title": "Pilot",
            "sortTitle": "Pilot, The",
            "originalTitle": "Pilot (1)",
            "year": 2004,
            "premiereDate": "2004-09-22",
            "overview": "A plane crashes.",
            "runtimeMs": 2_520_000,
            "officialRating": "TV-14",
            "seasonNumber": 1,
            "episodeNumber": 1,
            "episodeNumberEnd": 2,
            "trackNumber": None,
            "discNumber": None,
            "albumArtist": None,
            "extraType": None,
            "isMissing": False,
            "error": None,
            "dateAdded": "2026-11-01T12:00:00+00:00",
            "providerIds": [
                {"provider": "imdb", "value": "tt0636289"},
                {"provider": "tvdb", "value": "127131"},
            ],
            "library": {"name": "Shows", "kind": "TV", "itemCount": 1},
            "parent": {"title": "Season 1"},
            "series": {"id": str(series), "title": "Lost"},
            "season": {"title": "Season 1", "seasonNumber": 1},
            "genres": [{"name": "Adventure"}, {"name": "Drama"}],
            "people": [
                {
                    "role": "director",
                    "character": None,
                    "order": 0,
                    "person": {"name": "J. J. Abrams"},
                },
                {
                    "role": "actor",
                    "character": "Kate",
                    "order": 1,
                    "person": {"name": "Evangeline Lilly"},
                },
            ],
            "images": [
                {
                    "type": "THUMB",
                    "width": 400,
                    "height": 225,
                    "blurhash": "LKO2?U%2Tw=w",
                    "url": f"/images/{image_id}",
                }
            ],
            "files": [
                {
                    "fileName": "S01E01-E02.mkv",
                    "path": "/tv/Lost/S01E01-E02.mkv",
                    "size": 5_000_000_000,
                    "container": "matroska",
                    "durationMs": 2_520_000,
                    "bitrate": 15_000_000,
                    "partNumber": None,
                    "versionName": "1080p",
                    "probeError": None,
                    "isMissing": False,
                    "streams": [
                        {
                            "index": 0,
                            "type": "VIDEO",
                            "codec": "hevc",
                            "profile": "Main 10",
                            "level": 150,
                            "bitDepth": 10,
                            "width": 1920,
                            "height": 1080,
                            "frameRate": 23.976,
                            "hdrType": "hdr10",
                            "channels": None,
                            "channelLayout": None,
                            "language": None,
                            "title": None,
                            "isDefault": True,
                            "isForced": False,
                            "isHearingImpaired": False,
                            "isExternal": False,
                            "bitrate": 14_000_000,
                        },
                        {
                            "index": 1,
                            "type": "SUBTITLE",
                            "codec": "subrip",
                            "profile": None,
                            "level": None,
                            "bitDepth": None,
                            "width": None,
                            "height": None,
                            "frameRate": None,
                            "hdrType": None,
                            "channels": None,
                            "channelLayout": None,
                            "language": "eng",
                            "title": "SDH",
                            "isDefault": False,
                            "isForced": False,
                            "isHearingImpaired": True,
                            "isExternal": True,
                            "bitrate": None,
                        },
                    ],
                }
            ],
        }
    }


async def test_children_connection(execute: Execute, pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool, name="Music", kind="music")
    album = await insert_item(pool, library_id, "Low", kind="album", album_artist="David Bowie")
    for disc, track, title in [
        (1, 2, "Breaking Glass"),
        (2, 1, "Warszawa"),
        (1, 1, "Speed of Life"),
    ]:
        await insert_item(
            pool,
            library_id,
            title,
            kind="track",
            parent_id=album,
            disc_number=disc,
            track_number=track,
        )
    query = """query($id: ID!, $after: String) { item(id: $id) { children(first: 2, after: $after) {
        totalCount nodes { title } pageInfo { hasNextPage endCursor } } } }"""

    first = await execute(query, id=str(album))
    children = first.data["item"]["children"]
    rest = await execute(query, id=str(album), after=children["pageInfo"]["endCursor"])

    assert children["totalCount"] == 3
    assert [n["title"] for n in children["nodes"]] == ["Speed of Life", "Breaking Glass"]
    assert children["pageInfo"]["hasNextPage"] is True
    assert [n["title"] for n in rest.data["item"]["children"]["nodes"]] == ["Warszawa"]
    assert rest.data["item"]["children"]["pageInfo"]["hasNextPage"] is False


async def test_libraries_and_library(execute: Execute, pool: asyncpg.Pool) -> None:
    movies = await insert_library(pool, name="Movies", root_paths=["/m", "/n"])
    await insert_library(pool, name="anime", kind="tv")
    await insert_item(pool, movies, "Alien")
    scan_id = await insert_scan(pool, movies, "running", files_seen=7, current_path="/m/Alien")

    listed = await execute("{ libraries { name kind rootPaths itemCount lastScanAt } }")
    one = await execute(
        """query($id: ID!) { library(id: $id) { id name createdAt
           latestScan { id status filesSeen currentPath done library { name } } } }""",
        id=str(movies),
    )

    assert listed.data == {
        "libraries": [
            {
                "name": "anime",
                "kind": "TV",
                "rootPaths": ["/media/movies"],
                "itemCount": 0,
                "lastScanAt": None,
            },
            {
                "name": "Movies",
                "kind": "MOVIES",
                "rootPaths": ["/m", "/n"],
                "itemCount": 1,
                "lastScanAt": None,
            },
        ]
    }
    library = one.data["library"]
    assert (library["id"], library["name"]) == (str(movies), "Movies")
    assert library["latestScan"] == {
        "id": str(scan_id),
        "status": "RUNNING",
        "filesSeen": 7,
        "currentPath": "/m/Alien",
        "done": False,
        "library": {"name": "Movies"},
    }


async def test_items_arguments_reach_the_resolver(execute: Execute, pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool)
    for title, year in [("Alien", 1979), ("Aliens", 1986), ("Brazil", 1985), ("Heat", 1995)]:
        item = await insert_item(pool, library_id, title, year=year)
        await add_genres(pool, item, ["Action" if title != "Brazil" else "Comedy"])
    await insert_item(pool, library_id, "Lost", kind="series", year=2004)
    await refresh_search(pool)
    query = """query($lib: ID, $after: String) {
      items(libraryId: $lib, kinds: [MOVIE], yearFrom: 1980, genre: "action", sort: YEAR,
            direction: DESC, first: 1, after: $after) {
        totalCount edges { cursor node { title } } pageInfo { hasNextPage endCursor } } }"""

    first = await execute(query, lib=str(library_id))
    second = await execute(
        query, lib=str(library_id), after=first.data["items"]["pageInfo"]["endCursor"]
    )
    searched = await execute('{ items(text: "ali") { nodes { title } } }')
    random = await execute("{ items(sort: RANDOM, first: 500) { totalCount nodes { title } } }")

    assert first.data["items"]["totalCount"] == 2
    assert [e["node"]["title"] for e in first.data["items"]["edges"]] == ["Heat"]
    assert first.data["items"]["edges"][0]["cursor"] == first.data["items"]["pageInfo"]["endCursor"]
    assert [e["node"]["title"] for e in second.data["items"]["edges"]] == ["Aliens"]
    assert second.data["items"]["pageInfo"] == {
        "hasNextPage": False,
        "endCursor": second.data["items"]["edges"][0]["cursor"],
    }
    assert [n["title"] for n in searched.data["items"]["nodes"]] == ["Alien", "Aliens"]
    assert random.data["items"]["totalCount"] == 5
    assert sorted(n["title"] for n in random.data["items"]["nodes"]) == [
        "Alien",
        "Aliens",
        "Brazil",
        "Heat",
        "Lost",
    ]


async def test_search_and_genres(execute: Execute, pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool)
    other = await insert_library(pool, name="Other")
    alien = await insert_item(pool, library_id, "Alien")
    await add_genres(pool, alien, ["Horror"])
    await add_genres(pool, await insert_item(pool, other, "Up"), ["Animation"])
    await refresh_search(pool)

    found = await execute('{ search(query: "ali") { id title } }')
    nothing = await execute('{ search(query: "&|!():*") { id } }')
    genres = await execute("query($id: ID) { genres(libraryId: $id) { name } }", id=str(library_id))
    all_genres = await execute("{ genres { name } }")

    assert found.data == {"search": [{"id": str(alien), "title": "Alien"}]}
    assert nothing.data == {"search": []}
    assert genres.data == {"genres": [{"name": "Horror"}]}
    assert all_genres.data == {"genres": [{"name": "Animation"}, {"name": "Horror"}]}


@pytest.mark.parametrize(
    "query",
    [
        '{ item(id: "not-a-uuid") { id } }',
        '{ library(id: "42") { id } }',
        '{ items(libraryId: "nope") { totalCount } }',
        '{ items(parentId: "") { totalCount } }',
        "{ items(first: 0) { totalCount } }",
        "{ items(first: 501) { totalCount } }",
        '{ items(after: "garbage") { totalCount } }',
        '{ search(query: "x", first: 1000) { id } }',
        '{ genres(libraryId: "zzz") { name } }',
    ],
)
async def test_bad_input_is_a_coded_error(execute: Execute, pool: asyncpg.Pool, query: str) -> None:
    result = await execute(query)

    assert result.data is None or set(result.data.values()) == {None}
    assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_unknown_ids_are_null(execute: Execute, pool: asyncpg.Pool) -> None:
    unknown = str(uuid.uuid4())

    result = await execute(
        "query($id: ID!) { item(id: $id) { id } library(id: $id) { id } }", id=unknown
    )

    assert result.errors is None
    assert result.data == {"item": None, "library": None}


async def test_entities_resolve_through_one_batched_lookup(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    library_id = await insert_library(pool)
    ids = [str(await insert_item(pool, library_id, f"Movie {n}")) for n in range(25)]
    counting = StatementCountingPool(pool)
    representations = [{"__typename": "MediaItem", "id": item_id} for item_id in ids]
    representations += [
        {"__typename": "MediaItem", "id": str(uuid.uuid4())},
        {"__typename": "MediaItem", "id": "not-a-uuid"},
        {"__typename": "Library", "id": str(library_id)},
    ]

    result = await schema.execute(
        """query($r: [_Any!]!) { _entities(representations: $r) {
             ... on MediaItem { id title } ... on Library { name } } }""",
        variable_values={"r": representations},
        context_value=make_context(counting, tmp_path),
    )

    assert result.errors is None
    entities = result.data["_entities"]
    assert [e["title"] for e in entities[:25]] == [f"Movie {n}" for n in range(25)]
    assert entities[25:] == [None, None, {"name": "Movies"}]
    assert sorted(s.split()[3] for s in counting.statements) == ["libraries", "media_items"]


async def test_image_urls_are_signed_for_the_callers_profile(
    execute: Execute, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    library_id = await insert_library(pool)
    item = await insert_item(pool, library_id, "Heat")
    image_id = await insert_image(pool, item, "poster", "/movies/Heat/poster.jpg")
    signer = StreamSigner(b"s" * 32)
    viewer = Principal(
        user_id="0190a7c2-0000-7000-8000-00000000000a",
        profile_id="0190a7c2-0000-7000-8000-00000000000b",
        scopes=frozenset({"catalog:read"}),
        auth_method="jwt",
    )
    context = make_context(pool, tmp_path, principal=viewer, stream_signer=signer)

    result = await execute("query ($id: ID!) { item(id: $id) { images { url } } }",
                           context, id=str(item))  # fmt: skip

    assert result.errors is None
    url = result.data["item"]["images"][0]["url"]
    path, _, query = url.partition("?")
    assert path == f"/images/{image_id}"
    params = dict(part.split("=", 1) for part in query.split("&"))
    assert signer.verify_image(image_id, params, time.time()) == (
        viewer.user_id,
        viewer.profile_id,
    )
