"""startPlayback, reportProgress and stopPlayback through the playback subgraph alone."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import asyncpg

from infra.authz.casbin_engine import ALL
from infra.authz.principal import ANONYMOUS
from infra.authz.service import VisibilityFilter
from infra.bus import InProcessBus
from infra.signing import StreamSigner
from tests.subgraphs.playback.conftest import (
    TWO_HOURS_MS,
    Execute,
    add_file,
    add_item,
    add_library,
    error_codes,
    make_viewer,
)

START = """
mutation($item: ID!, $profile: String, $file: ID, $at: Int) {
  startPlayback(itemId: $item, deviceProfileName: $profile, fileId: $file, startPositionMs: $at) {
    __typename
    ... on PlaybackSession { id streamUrl decision { method reasons } positionMs expiresAt }
    ... on PlaybackError { code message }
  }
}"""

PROGRESS = """
mutation($session: ID!, $at: Int!, $paused: Boolean) {
  reportProgress(sessionId: $session, positionMs: $at, isPaused: $paused) {
    sessionId resumePositionMs isPlayed isPaused
  }
}"""

STOP = "mutation($session: ID!) { stopPlayback(sessionId: $session) { sessionId } }"


async def _movie(pool: asyncpg.Pool, **file: Any) -> tuple[uuid.UUID, uuid.UUID]:
    item_id = await add_item(pool, await add_library(pool), "Film")
    return item_id, await add_file(pool, item_id, **file)


async def _start(execute: Execute, item_id: uuid.UUID, **variables: Any) -> dict[str, Any]:
    result = await execute(START, item=str(item_id), **variables)
    assert result.errors is None
    started: dict[str, Any] = result.data["startPlayback"]
    return started


async def _collect(bus: InProcessBus, into: list[dict[str, Any]]) -> None:
    async for event in bus.subscribe("playback"):
        into.append(event)


async def test_direct_play_returns_a_signed_stream_url(
    pool: asyncpg.Pool, execute: Execute, signer: StreamSigner, viewer: Any
) -> None:
    item_id, file_id = await _movie(pool)

    started = await _start(execute, item_id)

    assert started["__typename"] == "PlaybackSession"
    assert started["decision"] == {"method": "DIRECT_PLAY", "reasons": []}
    assert started["positionMs"] == 0
    url = urlsplit(started["streamUrl"])
    assert url.path == f"/stream/{file_id}"
    assert started["streamUrl"].startswith(f"/stream/{file_id}?")
    params = dict(parse_qsl(url.query))
    assert signer.verify_stream(file_id, params, time.time()) == str(viewer.user_id)
    row = await pool.fetchrow(
        "SELECT * FROM playback_sessions WHERE id = $1", uuid.UUID(started["id"])
    )
    assert (row["item_id"], row["file_id"], row["method"]) == (item_id, file_id, "DIRECT_PLAY")
    assert (row["user_id"], row["profile_id"]) == (viewer.user_id, viewer.profile_id)


async def test_start_publishes_playback_started(
    pool: asyncpg.Pool, execute: Execute, bus: InProcessBus, viewer: Any
) -> None:
    item_id, _ = await _movie(pool)
    events: list[dict[str, Any]] = []
    listener = asyncio.create_task(_collect(bus, events))
    await asyncio.sleep(0)

    started = await _start(execute, item_id, at=60_000)
    await asyncio.sleep(0)
    listener.cancel()

    assert events == [
        {
            "type": "playback.started",
            "sessionId": started["id"],
            "userId": str(viewer.user_id),
            "profileId": str(viewer.profile_id),
            "itemId": str(item_id),
            "positionMs": 60_000,
        }
    ]


async def test_a_transcode_decision_is_refused_with_its_reasons(
    pool: asyncpg.Pool, execute: Execute
) -> None:
    item_id, _ = await _movie(pool, container="matroska", video="hevc", audio="truehd")

    started = await _start(execute, item_id)

    assert started["__typename"] == "PlaybackError"
    assert started["code"] == "TRANSCODING_UNAVAILABLE"
    assert "TRANSCODE" in started["message"]
    for reason in ("CONTAINER_UNSUPPORTED", "VIDEO_CODEC_UNSUPPORTED", "AUDIO_CODEC_UNSUPPORTED"):
        assert reason in started["message"]
    assert await pool.fetchval("SELECT count(*) FROM playback_sessions") == 0


async def test_a_remux_decision_streams_fragmented_mp4(
    pool: asyncpg.Pool, execute: Execute, signer: StreamSigner, viewer: Any
) -> None:
    item_id, file_id = await _movie(pool, container="matroska")

    started = await _start(execute, item_id, at=600_000)

    assert started["decision"] == {"method": "REMUX", "reasons": ["CONTAINER_UNSUPPORTED"]}
    url = urlsplit(started["streamUrl"])
    assert url.path == f"/remux/{file_id}"
    params = dict(parse_qsl(url.query))
    assert (params["audio"], params["start"]) == ("1", "600000")
    assert signer.verify_stream(file_id, params, time.time()) == str(viewer.user_id)


async def test_unknown_profile_missing_signer_and_missing_files(
    pool: asyncpg.Pool, execute: Execute, context: Any
) -> None:
    item_id, file_id = await _movie(pool)
    bare = await add_item(pool, await pool.fetchval("SELECT id FROM libraries"), "Bare")
    await add_file(pool, bare, is_missing=True)

    unknown = await _start(execute, item_id, profile="toaster")
    unsigned = await execute(START, context_value=context(with_signer=False), item=str(item_id))
    no_file = await _start(execute, bare)
    other_file = await _start(execute, item_id, file=str(uuid.uuid4()))
    nothing = await _start(execute, uuid.uuid4())

    assert unknown["code"] == "UNKNOWN_PROFILE"
    assert unsigned.data["startPlayback"]["code"] == "SIGNING_UNAVAILABLE"
    assert no_file["code"] == "NO_PLAYABLE_FILE"
    assert other_file["code"] == "NOT_FOUND"
    assert nothing["code"] == "NOT_FOUND"
    assert (await _start(execute, item_id, file=str(file_id)))["__typename"] == "PlaybackSession"


async def test_a_hidden_item_cannot_be_started(
    pool: asyncpg.Pool, execute: Execute, context: Any
) -> None:
    library_id = await add_library(pool)
    adult = await add_item(pool, library_id, "Adult", rating_rank=50)
    await add_file(pool, adult)
    kids = context(visibility=VisibilityFilter(library_ids=ALL, max_rating_rank=10))

    result = await execute(START, context_value=kids, item=str(adult))

    assert result.data["startPlayback"]["code"] == "NOT_FOUND"


async def test_anonymous_callers_are_refused(
    pool: asyncpg.Pool, execute: Execute, context: Any
) -> None:
    item_id, _ = await _movie(pool)

    result = await execute(START, context_value=context(principal=ANONYMOUS), item=str(item_id))

    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_progress_stores_a_resume_position(pool: asyncpg.Pool, execute: Execute) -> None:
    item_id, _ = await _movie(pool)
    session = (await _start(execute, item_id))["id"]

    result = await execute(PROGRESS, session=session, at=30 * 60_000, paused=True)

    assert result.errors is None
    assert result.data["reportProgress"] == {
        "sessionId": session,
        "resumePositionMs": 30 * 60_000,
        "isPlayed": False,
        "isPaused": True,
    }
    row = await pool.fetchrow("SELECT * FROM user_data WHERE item_id = $1", item_id)
    assert (row["position_ms"], row["is_played"], row["play_count"]) == (1_800_000, False, 0)
    again = await _start(execute, item_id)
    assert again["positionMs"] == 1_800_000


async def test_progress_below_five_percent_is_not_resumable(
    pool: asyncpg.Pool, execute: Execute
) -> None:
    item_id, _ = await _movie(pool)
    session = (await _start(execute, item_id))["id"]

    result = await execute(PROGRESS, session=session, at=60_000)

    assert result.data["reportProgress"]["resumePositionMs"] == 0
    assert await pool.fetchval("SELECT position_ms FROM user_data") == 0
    assert (
        await pool.fetchval(
            "SELECT position_ms FROM playback_sessions WHERE id = $1", uuid.UUID(session)
        )
        == 60_000
    )


async def test_crossing_ninety_five_percent_scrobbles_once(
    pool: asyncpg.Pool, execute: Execute, bus: InProcessBus
) -> None:
    item_id, _ = await _movie(pool)
    session = (await _start(execute, item_id))["id"]
    events: list[dict[str, Any]] = []
    listener = asyncio.create_task(_collect(bus, events))
    await asyncio.sleep(0)

    first = await execute(PROGRESS, session=session, at=int(TWO_HOURS_MS * 0.95))
    second = await execute(PROGRESS, session=session, at=int(TWO_HOURS_MS * 0.97))
    await asyncio.sleep(0)
    listener.cancel()

    assert first.data["reportProgress"]["isPlayed"] is True
    assert second.data["reportProgress"]["isPlayed"] is True
    row = await pool.fetchrow("SELECT * FROM user_data WHERE item_id = $1", item_id)
    assert (row["position_ms"], row["is_played"], row["play_count"]) == (0, True, 1)
    assert [e["type"] for e in events] == ["playback.scrobble"]
    assert events[0]["positionMs"] == int(TWO_HOURS_MS * 0.95)


async def test_the_final_five_minutes_count_as_played(pool: asyncpg.Pool, execute: Execute) -> None:
    item_id, _ = await _movie(pool, duration_ms=200 * 60_000)
    session = (await _start(execute, item_id))["id"]

    result = await execute(PROGRESS, session=session, at=196 * 60_000)

    assert result.data["reportProgress"]["isPlayed"] is True


async def test_someone_elses_session_does_not_exist_for_the_caller(
    pool: asyncpg.Pool, execute: Execute, context: Any
) -> None:
    item_id, _ = await _movie(pool)
    session = (await _start(execute, item_id))["id"]
    mallory = await make_viewer(pool, "mallory")
    as_mallory = context(principal=mallory.principal)

    progress = await execute(PROGRESS, context_value=as_mallory, session=session, at=600_000)
    stop = await execute(STOP, context_value=context(principal=mallory.principal), session=session)

    assert error_codes(progress) == ["NOT_FOUND"]
    assert error_codes(stop) == ["NOT_FOUND"]
    row = await pool.fetchrow(
        "SELECT position_ms, stopped_at FROM playback_sessions WHERE id = $1", uuid.UUID(session)
    )
    assert (row["position_ms"], row["stopped_at"]) == (0, None)
    assert await pool.fetchval("SELECT count(*) FROM user_data") == 0


async def test_negative_absurd_and_unknown_progress_is_refused(
    pool: asyncpg.Pool, execute: Execute
) -> None:
    item_id, _ = await _movie(pool)
    session = (await _start(execute, item_id))["id"]

    negative = await execute(PROGRESS, session=session, at=-1)
    past_the_end = await execute(PROGRESS, session=session, at=TWO_HOURS_MS + 3_600_000)
    unknown = await execute(PROGRESS, session=str(uuid.uuid4()), at=1)
    malformed = await execute(PROGRESS, session="nope", at=1)

    assert error_codes(negative) == ["BAD_USER_INPUT"]
    assert error_codes(past_the_end) == ["BAD_USER_INPUT"]
    assert error_codes(unknown) == ["NOT_FOUND"]
    assert error_codes(malformed) == ["BAD_USER_INPUT"]


async def test_stop_ends_the_session(
    pool: asyncpg.Pool, execute: Execute, bus: InProcessBus
) -> None:
    item_id, _ = await _movie(pool)
    session = (await _start(execute, item_id))["id"]
    events: list[dict[str, Any]] = []
    listener = asyncio.create_task(_collect(bus, events))
    await asyncio.sleep(0)

    stopped = await execute(STOP, session=session)
    late = await execute(PROGRESS, session=session, at=600_000)
    await asyncio.sleep(0)
    listener.cancel()

    assert stopped.data["stopPlayback"] == {"sessionId": session}
    assert error_codes(late) == ["BAD_USER_INPUT"]
    assert [e["type"] for e in events] == ["playback.stopped"]


async def test_a_session_names_the_files_seek_thumbnails_once_they_exist(
    pool: asyncpg.Pool, execute: Execute, signer: StreamSigner, viewer: Any
) -> None:
    item_id, file_id = await _movie(pool)
    query = (
        "mutation($i: ID!) { startPlayback(itemId: $i) { ... on PlaybackSession "
        "{ trickplayUrl } } }"
    )
    before = await execute(query, i=str(item_id))
    await pool.execute(
        "INSERT INTO trickplay (file_id, interval_ms, width, height, columns, rows, sheet_count, "
        "thumbnail_count, source_size, source_mtime_ns) VALUES ($1, 10000, 320, 180, 10, 10, 1, "
        "42, 1000, 0)",
        file_id,
    )

    after = await execute(query, i=str(item_id))

    assert before.data["startPlayback"]["trickplayUrl"] is None
    url = urlsplit(after.data["startPlayback"]["trickplayUrl"])
    assert url.path == f"/trickplay/{file_id}/index.vtt"
    params = dict(parse_qsl(url.query))
    assert signer.verify_stream(file_id, params, time.time()) == str(viewer.user_id)
