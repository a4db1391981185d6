"""The transcodeProgress subscription: the encoder runs now, then each published change, ending
with a failure; another user's session does not exist for the caller."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from infra.bus import InProcessBus
from loaders.context import Context
from media.hls.plan import uniform_plan
from media.hls.variants import Variant
from resolvers.playback.transcodes import create_transcode, request_run
from subgraphs.playback.schema import schema
from tests.subgraphs.playback.conftest import add_file, add_item, add_library, make_viewer

SUBSCRIPTION = """subscription($id: ID!) {
  transcodeProgress(sessionId: $id) {
    variant status segment segmentsReady segmentCount encoder failureCode
  }
}"""

VARIANT = Variant("360p", 640, 360, 800_000, 128_000, "h264", "aac", False, False, "avc1.64001e")


async def transcode_session(
    pool: asyncpg.Pool, viewer: Any, item_id: uuid.UUID, file_id: uuid.UUID
) -> uuid.UUID:
    """A TRANSCODE playback session of ``viewer``'s profile with its transcode (one variant)."""
    async with pool.acquire() as conn:
        session_id: uuid.UUID = await conn.fetchval(
            "INSERT INTO playback_sessions (user_id, profile_id, item_id, file_id, method) "
            "VALUES ($1, $2, $3, $4, 'TRANSCODE') RETURNING id",
            viewer.user_id,
            viewer.profile_id,
            item_id,
            file_id,
        )
        await create_transcode(
            conn,
            session_id,
            file_id,
            [VARIANT],
            uniform_plan(60.0),
            None,
            ("libx264", "software", {}),
        )
    return session_id


async def _transcode(pool: asyncpg.Pool, viewer: Any) -> uuid.UUID:
    item_id = await add_item(pool, await add_library(pool), "Film")
    file_id = await add_file(pool, item_id, container="avi", video="mpeg4")
    session_id = await transcode_session(pool, viewer, item_id, file_id)
    await request_run(pool, session_id, VARIANT.name, 0, 60.0)
    return session_id


def _event(session_id: uuid.UUID, status: str, segment: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "transcode.progress",
        "sessionId": str(session_id),
        "variant": "360p",
        "status": status,
        "segment": segment,
        "segmentsReady": segment,
        "segmentCount": 10,
        "frames": segment * 144,
        "speed": 2.5,
        "encoder": "libx264",
        **extra,
    }


async def test_progress_streams_the_runs_then_changes_until_a_failure(
    pool: asyncpg.Pool, context: Callable[..., Context], bus: InProcessBus, viewer: Any
) -> None:
    session_id = await _transcode(pool, viewer)
    stream = await schema.subscribe(
        SUBSCRIPTION, variable_values={"id": str(session_id)}, context_value=context()
    )

    first = await anext(stream)
    topic = f"transcode:{session_id}"
    while bus.subscriber_count(topic) == 0:  # noqa: ASYNC110 - the bus offers no event to wait on
        await asyncio.sleep(0.01)
    await bus.publish(topic, _event(session_id, "running", 3))
    await bus.publish(
        topic,
        _event(session_id, "failed", 3, type="transcode.failed", failureCode="TRANSCODE_FAILED"),
    )
    rest = [result async for result in stream]

    assert first.errors is None
    assert first.data["transcodeProgress"] == {
        "variant": "360p",
        "status": "QUEUED",
        "segment": 0,
        "segmentsReady": 0,
        "segmentCount": 10,
        "encoder": "libx264",
        "failureCode": None,
    }
    assert [r.data["transcodeProgress"]["status"] for r in rest] == ["RUNNING", "FAILED"]
    assert rest[-1].data["transcodeProgress"]["failureCode"] == "TRANSCODE_FAILED"
    assert bus.subscriber_count(topic) == 0


async def test_someone_elses_transcode_is_not_found(
    pool: asyncpg.Pool, context: Callable[..., Context], viewer: Any
) -> None:
    bob = await make_viewer(pool, "bob")
    session_id = await _transcode(pool, bob)

    stream = await schema.subscribe(
        SUBSCRIPTION, variable_values={"id": str(session_id)}, context_value=context()
    )
    results = [r async for r in stream] if hasattr(stream, "__aiter__") else [stream]

    assert [(e.extensions or {}).get("code") for r in results for e in r.errors or []] == [
        "NOT_FOUND"
    ]
