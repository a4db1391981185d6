"""userData on MediaItem, the marks, continueWatching and nextUp through the subgraph alone."""

from __future__ import annotations

import inspect
import uuid
from types import SimpleNamespace
from typing import Any

import asyncpg

from infra.authz.casbin_engine import ALL
from infra.authz.service import VisibilityFilter
from tests.subgraphs.playback.conftest import (
    Execute,
    add_item,
    add_library,
    error_codes,
)

ENTITIES = """
query($r: [_Any!]!) {
  _entities(representations: $r) {
    ... on MediaItem { id userData { positionMs isPlayed playCount isFavorite rating } }
  }
}"""


async def _user_data(
    pool: asyncpg.Pool, viewer: Any, item_id: uuid.UUID, position_ms: int, minutes_ago: int
) -> None:
    await pool.execute(
        "INSERT INTO user_data (user_id, profile_id, item_id, position_ms, is_played, "
        "play_count, last_played_at) VALUES ($1, $2, $3, $4::bigint, $4::bigint = 0, "
        "CASE WHEN $4::bigint = 0 THEN 1 ELSE 0 END, now() - make_interval(mins => $5))",
        viewer.user_id,
        viewer.profile_id,
        item_id,
        position_ms,
        minutes_ago,
    )


async def user_data_loader_for(context_value: Any) -> Any:
    from loaders.playback import UserDataByItemIdLoader

    loader = UserDataByItemIdLoader(
        context_value.pool, uuid.UUID(context_value.principal.profile_id)
    )
    context_value.state["playback.user_data_by_item_id"] = loader
    return loader


async def test_user_data_resolves_through_entities_in_one_batch(
    pool: asyncpg.Pool, execute: Execute, viewer: Any, context: Any
) -> None:
    library_id = await add_library(pool)
    watched = await add_item(pool, library_id, "Watched")
    untouched = await add_item(pool, library_id, "Untouched")
    await _user_data(pool, viewer, watched, 600_000, 1)
    batches: list[int] = []
    context_value = context()
    loader = await user_data_loader_for(context_value)
    original = loader.batch_load_fn

    async def counting(keys: Any) -> Any:
        batches.append(len(keys))
        return await original(keys)

    loader.batch_load_fn = counting  # type: ignore[method-assign]
    representations = [{"__typename": "MediaItem", "id": str(i)} for i in (watched, untouched)]
    result = await execute(ENTITIES, context_value=context_value, r=representations)

    assert result.errors is None
    assert batches == [2]
    assert result.data["_entities"] == [
        {
            "id": str(watched),
            "userData": {
                "positionMs": 600_000,
                "isPlayed": False,
                "playCount": 0,
                "isFavorite": False,
                "rating": None,
            },
        },
        {"id": str(untouched), "userData": None},
    ]


async def test_marks_and_favorites(pool: asyncpg.Pool, execute: Execute) -> None:
    item_id = await add_item(pool, await add_library(pool), "Film")
    fields = "id userData { positionMs isPlayed playCount isFavorite }"

    played = await execute(
        f"mutation($i: ID!) {{ markPlayed(itemId: $i) {{ {fields} }} }}", i=str(item_id)
    )
    favorite = await execute(
        f"mutation($i: ID!) {{ setFavorite(itemId: $i, favorite: true) {{ {fields} }} }}",
        i=str(item_id),
    )
    unplayed = await execute(
        f"mutation($i: ID!) {{ markUnplayed(itemId: $i) {{ {fields} }} }}", i=str(item_id)
    )
    missing = await execute(
        f"mutation($i: ID!) {{ markPlayed(itemId: $i) {{ {fields} }} }}", i=str(uuid.uuid4())
    )

    assert played.data["markPlayed"]["userData"] == {
        "positionMs": 0,
        "isPlayed": True,
        "playCount": 1,
        "isFavorite": False,
    }
    assert favorite.data["setFavorite"]["userData"]["isFavorite"] is True
    assert unplayed.data["markUnplayed"]["userData"] == {
        "positionMs": 0,
        "isPlayed": False,
        "playCount": 1,
        "isFavorite": True,
    }
    assert error_codes(missing) == ["NOT_FOUND"]


async def test_continue_watching_lists_resumable_items_most_recent_first(
    pool: asyncpg.Pool, execute: Execute, viewer: Any, context: Any
) -> None:
    library_id = await add_library(pool)
    older = await add_item(pool, library_id, "Older")
    newer = await add_item(pool, library_id, "Newer")
    finished = await add_item(pool, library_id, "Finished")
    hidden = await add_item(pool, library_id, "Hidden", rating_rank=50)
    await _user_data(pool, viewer, older, 600_000, 60)
    await _user_data(pool, viewer, newer, 900_000, 5)
    await _user_data(pool, viewer, finished, 0, 1)
    await _user_data(pool, viewer, hidden, 700_000, 2)
    query = "query($n: Int!) { continueWatching(first: $n) { id } }"

    everything = await execute(query, n=20)
    first = await execute(query, n=1)
    kids = context(visibility=VisibilityFilter(library_ids=ALL, max_rating_rank=10))
    as_kids = await execute(query, context_value=kids, n=20)
    too_many = await execute(query, n=1000)

    assert [i["id"] for i in everything.data["continueWatching"]] == [
        str(hidden),
        str(newer),
        str(older),
    ]
    assert [i["id"] for i in first.data["continueWatching"]] == [str(hidden)]
    assert [i["id"] for i in as_kids.data["continueWatching"]] == [str(newer), str(older)]
    assert error_codes(too_many) == ["BAD_USER_INPUT"]


async def test_next_up_finds_the_next_episode_across_seasons(
    pool: asyncpg.Pool, execute: Execute, viewer: Any
) -> None:
    library_id = await add_library(pool)
    show = await add_item(pool, library_id, "Show", kind="series")
    other = await add_item(pool, library_id, "Other", kind="series")
    untouched = await add_item(pool, library_id, "Untouched", kind="series")
    episodes = {
        (s, e): await add_item(
            pool, library_id, f"S{s}E{e}", kind="episode", series_id=show, season=s, episode=e
        )
        for s, e in [(1, 1), (1, 2), (2, 1), (2, 2)]
    }
    other_episodes = {
        e: await add_item(
            pool, library_id, f"O{e}", kind="episode", series_id=other, season=1, episode=e
        )
        for e in (1, 2, 3)
    }
    await add_item(pool, library_id, "U1", kind="episode", series_id=untouched, season=1, episode=1)
    # Show: all of season 1 watched an hour ago; Other: episode 1 watched a minute ago.
    await _user_data(pool, viewer, episodes[(1, 1)], 0, 70)
    await _user_data(pool, viewer, episodes[(1, 2)], 0, 60)
    await _user_data(pool, viewer, other_episodes[1], 0, 1)

    result = await execute("{ nextUp { id } }")

    assert result.errors is None
    assert [i["id"] for i in result.data["nextUp"]] == [
        str(other_episodes[2]),
        str(episodes[(2, 1)]),
    ]


async def test_anonymous_callers_get_no_lists(execute: Execute, context: Any) -> None:
    from infra.authz.principal import ANONYMOUS

    result = await execute(
        "{ continueWatching { id } }", context_value=context(principal=ANONYMOUS)
    )

    assert error_codes(result) == ["UNAUTHENTICATED"]


RATE = "mutation($i: ID!, $r: Float) { rate(itemId: $i, rating: $r) { id userData { rating } } }"


async def test_rating_is_set_cleared_and_bounded(pool: asyncpg.Pool, execute: Execute) -> None:
    item_id = await add_item(pool, await add_library(pool), "Film")

    rated = await execute(RATE, i=str(item_id), r=8.5)
    cleared = await execute(RATE, i=str(item_id), r=None)
    too_high = await execute(RATE, i=str(item_id), r=10.5)
    negative = await execute(RATE, i=str(item_id), r=-1.0)
    missing = await execute(RATE, i=str(uuid.uuid4()), r=5.0)

    assert rated.data["rate"]["userData"] == {"rating": 8.5}
    assert cleared.data["rate"]["userData"] == {"rating": None}
    assert error_codes(too_high) == ["BAD_USER_INPUT"]
    assert error_codes(negative) == ["BAD_USER_INPUT"]
    assert error_codes(missing) == ["NOT_FOUND"]
    assert await pool.fetchval("SELECT rating FROM user_data WHERE item_id = $1", item_id) is None


async def test_a_prefetched_page_answers_references_and_user_data_without_awaiting(
    pool: asyncpg.Pool, viewer: Any, context: Any
) -> None:
    """What the gateway's entity prefetch relies on: after ``prefetch_references`` for a page,
    ``resolve_reference`` and ``userData`` answer at once, with the catalog's visibility."""
    from subgraphs.playback.types import MediaItem

    library_id = await add_library(pool)
    watched = await add_item(pool, library_id, "Watched")
    hidden = await add_item(pool, library_id, "Hidden", rating_rank=50)
    elsewhere = await add_item(pool, library_id, "Not on the page")
    await _user_data(pool, viewer, watched, 600_000, 1)
    kids = context(visibility=VisibilityFilter(library_ids=ALL, max_rating_rank=10))
    info = SimpleNamespace(context=kids)
    page = [{"id": str(watched)}, {"id": str(hidden)}, {"id": "not-an-id"}]

    await MediaItem.prefetch_references(info, page)  # type: ignore[arg-type]
    reference = MediaItem.resolve_reference(info, str(watched))  # type: ignore[arg-type]
    data = reference.user_data(info)  # type: ignore[arg-type]
    later = MediaItem.resolve_reference(info, str(elsewhere))  # type: ignore[arg-type]

    assert isinstance(reference, MediaItem) and reference.id == str(watched)
    assert (data.position_ms, data.is_played) == (600_000, False)
    assert MediaItem.resolve_reference(info, str(hidden)) is None  # type: ignore[arg-type]
    assert MediaItem.resolve_reference(info, "not-an-id") is None  # type: ignore[arg-type]
    assert inspect.isawaitable(later)  # not on the page: loaded the ordinary way
    assert (await later).id == str(elsewhere)
