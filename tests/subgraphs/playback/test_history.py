"""watchHistory (keyset pages) and resume(seriesId) through the playback subgraph alone."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import asyncpg

from infra.authz.casbin_engine import ALL
from infra.authz.principal import ANONYMOUS
from infra.authz.service import VisibilityFilter
from tests.subgraphs.playback.conftest import (
    Execute,
    add_file,
    add_item,
    add_library,
    error_codes,
    make_viewer,
)

HISTORY = """
query($n: Int!, $after: String) {
  watchHistory(first: $n, after: $after) {
    totalCount
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  }
}"""

RESUME = "query($s: ID!) { resume(seriesId: $s) { item { id } fileId positionMs } }"


async def _watched(
    pool: asyncpg.Pool,
    viewer: Any,
    item_id: uuid.UUID,
    *,
    position_ms: int = 0,
    played: bool = False,
    minutes_ago: int | None = 1,
    favorite: bool = False,
) -> None:
    await pool.execute(
        "INSERT INTO user_data (user_id, profile_id, item_id, position_ms, is_played, "
        "play_count, last_played_at, is_favorite) VALUES ($1, $2, $3, $4, $5, "
        "CASE WHEN $5 THEN 1 ELSE 0 END, now() - make_interval(mins => $6), $7)",
        viewer.user_id,
        viewer.profile_id,
        item_id,
        position_ms,
        played,
        minutes_ago,
        favorite,
    )


def _ids(result: Any) -> list[str]:
    return [edge["node"]["id"] for edge in result.data["watchHistory"]["edges"]]


async def test_watch_history_pages_newest_first_with_opaque_cursors(
    pool: asyncpg.Pool, execute: Execute, viewer: Any
) -> None:
    library_id = await add_library(pool)
    items = [await add_item(pool, library_id, f"Film {n}") for n in range(5)]
    for minutes, item_id in zip((50, 40, 30, 20, 10), items, strict=True):
        await _watched(pool, viewer, item_id, played=True, minutes_ago=minutes)
    # Favorited only, never played: not history.
    await _watched(
        pool, viewer, await add_item(pool, library_id, "Fav"), minutes_ago=None, favorite=True
    )
    newest_first = [str(i) for i in reversed(items)]

    first = await execute(HISTORY, n=2)
    page = first.data["watchHistory"]
    second = await execute(HISTORY, n=2, after=page["pageInfo"]["endCursor"])
    third = await execute(HISTORY, n=2, after=second.data["watchHistory"]["pageInfo"]["endCursor"])
    everything = await execute(HISTORY, n=50)

    assert first.errors is None
    assert page["totalCount"] == 5
    assert _ids(first) == newest_first[:2]
    assert page["pageInfo"] == {"hasNextPage": True, "endCursor": page["edges"][1]["cursor"]}
    assert str(items[-1]) not in page["edges"][0]["cursor"]
    assert _ids(second) == newest_first[2:4]
    assert second.data["watchHistory"]["pageInfo"]["hasNextPage"] is True
    assert _ids(third) == newest_first[4:]
    assert third.data["watchHistory"]["pageInfo"]["hasNextPage"] is False
    assert _ids(everything) == newest_first


async def test_watch_history_breaks_ties_by_item_and_includes_partly_played(
    pool: asyncpg.Pool, execute: Execute, viewer: Any
) -> None:
    library_id = await add_library(pool)
    items = [await add_item(pool, library_id, f"Film {n}") for n in range(4)]
    for item_id in items:
        await _watched(pool, viewer, item_id, position_ms=600_000, minutes_ago=5)
    await pool.execute("UPDATE user_data SET last_played_at = '2026-01-01T00:00:00Z'")
    expected = sorted((str(i) for i in items), reverse=True)

    seen: list[str] = []
    after = None
    for _ in range(4):
        result = await execute(HISTORY, n=1, after=after)
        assert result.errors is None
        seen += _ids(result)
        after = result.data["watchHistory"]["pageInfo"]["endCursor"]

    assert seen == expected


async def test_watch_history_applies_visibility_and_belongs_to_the_profile(
    pool: asyncpg.Pool, execute: Execute, viewer: Any, context: Any
) -> None:
    library_id = await add_library(pool)
    mine = await add_item(pool, library_id, "Mine")
    hidden = await add_item(pool, library_id, "Hidden", rating_rank=50)
    theirs = await add_item(pool, library_id, "Theirs")
    await _watched(pool, viewer, mine, played=True, minutes_ago=3)
    await _watched(pool, viewer, hidden, position_ms=500_000, minutes_ago=2)
    bob = await make_viewer(pool, "bob")
    await _watched(pool, bob, theirs, played=True, minutes_ago=1)

    kids = context(visibility=VisibilityFilter(library_ids=ALL, max_rating_rank=10))
    as_kids = await execute(HISTORY, context_value=kids, n=10)
    as_bob = await execute(HISTORY, context_value=context(principal=bob.principal), n=10)
    nothing = await execute(
        HISTORY, context_value=context(visibility=VisibilityFilter(library_ids=frozenset())), n=10
    )

    assert as_kids.data["watchHistory"]["totalCount"] == 1
    assert _ids(as_kids) == [str(mine)]
    assert _ids(as_bob) == [str(theirs)]
    assert nothing.data["watchHistory"] == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }


async def test_watch_history_rejects_bad_cursors_page_sizes_and_anonymous_callers(
    execute: Execute, context: Any
) -> None:
    forged = base64.urlsafe_b64encode(b'["yesterday","x"]').decode()
    results = [
        await execute(HISTORY, n=10, after="not a cursor!"),
        await execute(HISTORY, n=10, after=forged),
        await execute(HISTORY, n=0),
        await execute(HISTORY, n=1000),
    ]
    anonymous = await execute(HISTORY, context_value=context(principal=ANONYMOUS), n=10)

    assert [error_codes(r) for r in results] == [["BAD_USER_INPUT"]] * 4
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]


async def _series(pool: asyncpg.Pool) -> tuple[uuid.UUID, dict[tuple[int, int], uuid.UUID]]:
    library_id = await add_library(pool)
    show = await add_item(pool, library_id, "Show", kind="series")
    episodes = {
        (s, e): await add_item(
            pool, library_id, f"S{s}E{e}", kind="episode", series_id=show, season=s, episode=e
        )
        for s, e in [(2, 1), (1, 2), (1, 1), (2, 2)]
    }
    return show, episodes


async def _resume(execute: Execute, series_id: uuid.UUID, **kwargs: Any) -> Any:
    result = await execute(RESUME, s=str(series_id), **kwargs)
    assert result.errors is None
    return result.data["resume"]


async def test_resume_starts_a_fresh_series_at_its_first_episode_with_its_file(
    pool: asyncpg.Pool, execute: Execute
) -> None:
    show, episodes = await _series(pool)
    file_id = await add_file(pool, episodes[(1, 1)])

    assert await _resume(execute, show) == {
        "item": {"id": str(episodes[(1, 1)])},
        "fileId": str(file_id),
        "positionMs": 0,
    }


async def test_resume_prefers_the_episode_in_progress(
    pool: asyncpg.Pool, execute: Execute, viewer: Any
) -> None:
    show, episodes = await _series(pool)
    await _watched(pool, viewer, episodes[(1, 1)], played=True, minutes_ago=30)
    await _watched(pool, viewer, episodes[(2, 2)], position_ms=100_000, minutes_ago=20)
    await _watched(pool, viewer, episodes[(1, 2)], position_ms=654_321, minutes_ago=10)

    assert await _resume(execute, show) == {
        "item": {"id": str(episodes[(1, 2)])},
        "fileId": None,
        "positionMs": 654_321,
    }


async def test_resume_moves_to_the_next_unplayed_episode_across_seasons(
    pool: asyncpg.Pool, execute: Execute, viewer: Any
) -> None:
    show, episodes = await _series(pool)
    await _watched(pool, viewer, episodes[(1, 1)], played=True, minutes_ago=30)
    await _watched(pool, viewer, episodes[(1, 2)], played=True, minutes_ago=20)

    assert (await _resume(execute, show))["item"] == {"id": str(episodes[(2, 1)])}


async def test_resume_goes_back_to_the_first_episode_after_the_last_one(
    pool: asyncpg.Pool, execute: Execute, viewer: Any
) -> None:
    show, episodes = await _series(pool)
    await _watched(pool, viewer, episodes[(2, 2)], played=True, minutes_ago=5)

    assert await _resume(execute, show) == {
        "item": {"id": str(episodes[(1, 1)])},
        "fileId": None,
        "positionMs": 0,
    }


async def test_resume_is_null_without_visible_episodes(
    pool: asyncpg.Pool, execute: Execute, context: Any
) -> None:
    library_id = await add_library(pool)
    show = await add_item(pool, library_id, "Show", kind="series")
    await add_item(
        pool, library_id, "E1", kind="episode", series_id=show, season=1, episode=1, rating_rank=50
    )
    kids = context(visibility=VisibilityFilter(library_ids=ALL, max_rating_rank=10))

    assert await _resume(execute, show, context_value=kids) is None
    assert await _resume(execute, uuid.uuid4()) is None
    assert (await _resume(execute, show))["positionMs"] == 0
    bad = await execute(RESUME, s="nope")
    assert error_codes(bad) == ["BAD_USER_INPUT"]
