"""A playback session belongs to the profile that started it: another profile of the same account
(a kids profile beside its parent) and another account neither list it, nor report on it, nor
stop it, nor follow its transcode; for them it does not exist. Administrators list every
session with ``allUsers``. Run through the playback subgraph and through the composed schema
(the gateway's executor), on real PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from gateway.graphql_http import GraphQLService
from gateway.schema import composed_schema
from infra.authz.principal import Principal
from infra.authz.service import VisibilityFilter
from infra.bus import InProcessBus
from loaders.context import Context
from resolvers.playback.heartbeats import HeartbeatCoalescer
from subgraphs.playback.schema import schema
from tests.subgraphs.playback.conftest import (
    AUTHZ,
    Execute,
    Viewer,
    add_file,
    add_item,
    add_library,
    make_viewer,
)
from tests.subgraphs.playback.test_transcode_progress import transcode_session

START = """
mutation($item: ID!) {
  startPlayback(itemId: $item) {
    __typename
    ... on PlaybackSession { id }
    ... on PlaybackError { code message }
  }
}"""
PROGRESS = """
mutation($session: ID!, $at: Int!) {
  reportProgress(sessionId: $session, positionMs: $at) { sessionId isPlayed }
}"""
STOP = "mutation($session: ID!) { stopPlayback(sessionId: $session) { sessionId } }"
ACTIVE = """
query($all: Boolean! = false) {
  activePlaybackSessions(allUsers: $all) { id profileId fileId item { id title } }
}"""
TRANSCODE = "subscription($id: ID!) { transcodeProgress(sessionId: $id) { variant status } }"
ENTITIES = """
query($id: ID!) {
  _entities(representations: [{__typename: "MediaItem", id: $id}]) {
    ... on MediaItem { id userData { playCount } }
  }
}"""
TWO_HOURS_MS = 2 * 60 * 60 * 1000


@dataclasses.dataclass
class Family:
    """One account with an adult and a kids profile (PG at most), and another account."""

    parent: Viewer
    kid: Viewer
    stranger: Viewer
    library_id: uuid.UUID
    adult_film: uuid.UUID  # NC-17
    cartoon: uuid.UUID  # G
    kid_visibility: VisibilityFilter  # PG and below, nothing unrated, the family's library


@pytest.fixture
async def family(pool: asyncpg.Pool, viewer: Viewer) -> Family:
    kid_profile: uuid.UUID = await pool.fetchval(
        "INSERT INTO profiles (user_id, name, is_kids, max_rating, allow_unrated) "
        "VALUES ($1, 'Kid', true, 'PG', false) RETURNING id",
        viewer.user_id,
    )
    kid = Principal(
        user_id=str(viewer.user_id),
        profile_id=str(kid_profile),
        roles=frozenset({"user"}),
        scopes=frozenset({"catalog:*", "playback:*"}),
        auth_method="jwt",
        is_kids=True,
        max_rating="PG",
    )
    library_id = await add_library(pool)
    adult_film = await add_item(pool, library_id, "Adult Film", rating_rank=18)
    cartoon = await add_item(pool, library_id, "Cartoon", rating_rank=0)
    for item_id in (adult_film, cartoon):
        await add_file(pool, item_id)
    return Family(
        parent=viewer,
        kid=Viewer(kid, viewer.user_id, kid_profile),
        stranger=await make_viewer(pool, "stranger"),
        library_id=library_id,
        adult_film=adult_film,
        cartoon=cartoon,
        kid_visibility=dataclasses.replace(
            await AUTHZ.visibility(kid), library_ids=frozenset({str(library_id)})
        ),
    )


def as_kid(context: Callable[..., Context], family: Family) -> Context:
    return context(principal=family.kid.principal, visibility=family.kid_visibility)


async def gateway(query: str, context: Context, **variables: Any) -> dict[str, Any]:
    """The composed schema as ``/graphql`` runs it, errors formatted and masked."""
    service = GraphQLService(composed_schema().schema)
    return await service.execute(await service.prepare(query, None, variables), context)


def codes(response: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in response.get("errors", [])]


async def _start(execute: Execute, context: Context, item_id: uuid.UUID) -> str:
    result = await execute(START, context_value=context, item=str(item_id))
    assert result.errors is None, result.errors
    assert result.data["startPlayback"]["__typename"] == "PlaybackSession", result.data
    session_id: str = result.data["startPlayback"]["id"]
    return session_id


async def test_a_kids_profile_lists_only_its_own_sessions(
    pool: asyncpg.Pool, execute: Execute, context: Callable[..., Context], family: Family
) -> None:
    parents = await _start(execute, context(), family.adult_film)
    kids = await _start(execute, as_kid(context, family), family.cartoon)
    await _start(execute, context(principal=family.stranger.principal), family.cartoon)

    as_kid_answer = await gateway(ACTIVE, as_kid(context, family))
    as_parent_answer = await gateway(ACTIVE, context())

    assert as_kid_answer == {
        "data": {
            "activePlaybackSessions": [
                {
                    "id": kids,
                    "profileId": str(family.kid.profile_id),
                    "fileId": await _file_of(pool, family.cartoon),
                    "item": {"id": str(family.cartoon), "title": "Cartoon"},
                }
            ]
        }
    }
    assert as_parent_answer == {
        "data": {
            "activePlaybackSessions": [
                {
                    "id": parents,
                    "profileId": str(family.parent.profile_id),
                    "fileId": await _file_of(pool, family.adult_film),
                    "item": {"id": str(family.adult_film), "title": "Adult Film"},
                }
            ]
        }
    }


async def test_a_session_whose_item_the_caller_no_longer_sees_has_a_null_item(
    pool: asyncpg.Pool, execute: Execute, context: Callable[..., Context], family: Family
) -> None:
    kids = await _start(execute, as_kid(context, family), family.cartoon)
    await pool.execute(
        "UPDATE media_items SET rating_rank = $2, effective_rating_rank = $2 WHERE id = $1",
        family.cartoon,
        17,  # R
    )

    answer = await gateway(ACTIVE, as_kid(context, family))

    assert answer == {
        "data": {
            "activePlaybackSessions": [
                {
                    "id": kids,
                    "profileId": str(family.kid.profile_id),
                    "fileId": await _file_of(pool, family.cartoon),
                    "item": None,
                }
            ]
        }
    }


@pytest.mark.parametrize("coalesced", [False, True], ids=["direct", "coalesced"])
async def test_another_profiles_session_cannot_be_reported_on_or_stopped(
    pool: asyncpg.Pool,
    execute: Execute,
    context: Callable[..., Context],
    bus: InProcessBus,
    family: Family,
    coalesced: bool,
) -> None:
    heartbeats = HeartbeatCoalescer(pool, bus, interval=3600)

    def build(**kwargs: Any) -> Context:
        built = as_kid(context, family) if kwargs.pop("kid", False) else context(**kwargs)
        if coalesced:
            built.services["heartbeats"] = heartbeats
        return built

    parents = await _start(execute, build(), family.adult_film)
    near_the_end = int(TWO_HOURS_MS * 0.95)
    answers = [
        await gateway(PROGRESS, build(kid=True), session=parents, at=near_the_end),
        await gateway(STOP, build(kid=True), session=parents),
        await gateway(PROGRESS, build(principal=family.stranger.principal), session=parents, at=1),
        await gateway(STOP, build(principal=family.stranger.principal), session=parents),
    ]
    await heartbeats.flush()

    assert [(codes(answer), answer["data"]) for answer in answers] == [(["NOT_FOUND"], None)] * 4
    assert [answer["errors"][0]["message"] for answer in answers] == [
        "no such playback session"
    ] * 4
    row = await pool.fetchrow(
        "SELECT position_ms, stopped_at FROM playback_sessions WHERE id = $1", uuid.UUID(parents)
    )
    assert (row["position_ms"], row["stopped_at"]) == (0, None)
    assert await pool.fetchval("SELECT count(*) FROM user_data") == 0
    # The parent still drives the session.
    own = await gateway(PROGRESS, build(), session=parents, at=near_the_end)
    await heartbeats.flush()
    assert own == {"data": {"reportProgress": {"sessionId": parents, "isPlayed": True}}}
    assert (
        await pool.fetchval(
            "SELECT play_count FROM user_data WHERE profile_id = $1", family.parent.profile_id
        )
        == 1
    )


async def test_another_profiles_transcode_cannot_be_followed(
    pool: asyncpg.Pool, context: Callable[..., Context], family: Family
) -> None:
    session_id = await _transcode_session(pool, family.parent, family.adult_film)

    stream = await schema.subscribe(
        TRANSCODE, variable_values={"id": str(session_id)}, context_value=as_kid(context, family)
    )
    async with asyncio.timeout(30):  # a guard: the bug streamed on, waiting for events
        results = [r async for r in stream] if hasattr(stream, "__aiter__") else [stream]

    assert [(e.extensions or {}).get("code") for r in results for e in r.errors or []] == [
        "NOT_FOUND"
    ]


async def test_administrators_list_every_session_but_not_from_a_kids_profile(
    pool: asyncpg.Pool, execute: Execute, context: Callable[..., Context], family: Family
) -> None:
    await pool.execute("UPDATE users SET roles = '{admin}' WHERE id = $1", family.parent.user_id)
    admin = dataclasses.replace(
        family.parent.principal, roles=frozenset({"admin"}), scopes=frozenset({"*"})
    )
    kid_of_admin = dataclasses.replace(
        family.kid.principal, roles=frozenset({"admin"}), scopes=frozenset({"*"})
    )
    parents = await _start(execute, context(), family.adult_film)
    kids = await _start(execute, as_kid(context, family), family.cartoon)
    strangers = await _start(execute, context(principal=family.stranger.principal), family.cartoon)

    everyone = await gateway(ACTIVE, context(principal=admin), all=True)
    from_kid = await gateway(
        ACTIVE,
        context(principal=kid_of_admin, visibility=family.kid_visibility),
        all=True,
    )

    assert sorted(s["id"] for s in everyone["data"]["activePlaybackSessions"]) == sorted(
        [parents, kids, strangers]
    )
    assert "errors" not in everyone
    assert codes(from_kid) == ["FORBIDDEN"]


async def test_the_entity_reference_of_a_hidden_item_is_null(
    pool: asyncpg.Pool, execute: Execute, context: Callable[..., Context], family: Family
) -> None:
    """What a federation router sends the playback subgraph (``revenge subgraph playback``)."""
    await pool.execute(
        "INSERT INTO user_data (user_id, profile_id, item_id, play_count) "
        "SELECT $1, $2, id, 3 FROM media_items",
        family.kid.user_id,
        family.kid.profile_id,
    )

    hidden = await execute(
        ENTITIES, context_value=as_kid(context, family), id=str(family.adult_film)
    )
    visible = await execute(ENTITIES, context_value=as_kid(context, family), id=str(family.cartoon))
    unknown = await execute(ENTITIES, context_value=as_kid(context, family), id=str(uuid.uuid4()))
    malformed = await execute(ENTITIES, context_value=as_kid(context, family), id="nope")

    assert (hidden.errors, hidden.data) == (None, {"_entities": [None]})
    assert (visible.errors, visible.data) == (
        None,
        {"_entities": [{"id": str(family.cartoon), "userData": {"playCount": 3}}]},
    )
    assert (unknown.errors, unknown.data) == (None, {"_entities": [None]})
    assert (malformed.errors, malformed.data) == (None, {"_entities": [None]})


async def _file_of(pool: asyncpg.Pool, item_id: uuid.UUID) -> str:
    return str(await pool.fetchval("SELECT id FROM media_files WHERE item_id = $1", item_id))


async def _transcode_session(pool: asyncpg.Pool, owner: Viewer, item_id: uuid.UUID) -> uuid.UUID:
    return await transcode_session(pool, owner, item_id, uuid.UUID(await _file_of(pool, item_id)))
